"""The ``cognirace`` command: thin wrappers that parse arguments, call a layer and print."""
