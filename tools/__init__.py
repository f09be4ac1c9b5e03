"""Built-in tools. Each module is a plugin that registers its tool through ``register_tools``."""
