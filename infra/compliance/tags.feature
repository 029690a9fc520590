@noskip
Feature: Everything taggable is tagged, so cost and ownership are visible

  Scenario Outline: Taggable resources carry the project tags
    Given I have resource that supports tags defined
    Then it must contain tags
    And it must contain <tag>

    Examples:
      | tag         |
      | Project     |
      | Environment |
      | ManagedBy   |
