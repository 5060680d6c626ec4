"""What every room uses and that uses no room: the `Settings` read from the environment (the one
configuration object, passed down), logging, the data folder, the files of bundled packages
(found without importing them) and a text's language. Imports nothing from docchat."""
