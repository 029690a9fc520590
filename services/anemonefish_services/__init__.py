"""Services built on the ``anemonefish`` library: API and worker Lambdas, local stack, client, CLI."""
