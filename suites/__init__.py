"""Suite definitions: which runs reproduce which figure of the papers."""
