"""Contract tests: every Op class in verigraph.tensor checked against one checklist."""
