"""``python -m inspector``'s commands, one module each (``add_arguments(parser)``, ``run(args)``, ``logger``);
inspector/__main__.py is their table. Every module imports only light modules at the top."""
