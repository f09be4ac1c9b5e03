"""An example instance-agent plugin package: a tool with a caption section and a CLI command (``plugin``), a
condition (``condition``) and a chat backend (``backend``), each one module with its own entry point."""
