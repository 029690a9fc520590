// Deployment settings of the console. A deployment overwrites this file (for example the
// Terraform `console` module writes the API Gateway URL here); `?api=URL` in the page's
// address overrides it, for the APIs below. An empty apiBaseUrl means "the API is at the page's own origin",
// which is how the local stack (`anemonefish local up`) serves the console.
export default {
  apiBaseUrl: "",
  // Other APIs `?api=URL` may point the page at (a staging stack, say); any on this computer
  // may be named too. Others are refused: the link would send the key to whoever wrote it.
  otherApis: [],
  // Parts of a multipart upload sent at once.
  concurrentParts: 4,
  // Seconds between status polls of a job once its upload is done.
  pollIntervalS: 1.5,
};
