"""Lambda adapters: one Powertools ``BedrockAgentResolver`` app per action group, plus the alarm trigger."""
