"""The shipped model files (package data, read on first use) and `format`, the module that owns their format."""
