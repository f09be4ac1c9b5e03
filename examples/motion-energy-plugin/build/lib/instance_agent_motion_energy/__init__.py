"""An example instance-agent plugin: a tool, a caption section and a CLI command."""
