"""The sync stage: every camera's clock against a reference and the common timeline -> sync.json."""
