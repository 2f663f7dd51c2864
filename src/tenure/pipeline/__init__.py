"""The orchestrator: named steps run in dependency order from one registry, each run
recorded (docs/pipeline.md). ``tenure run`` brings everything stale up to date."""
