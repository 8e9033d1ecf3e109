"""HTTP transport: the only package that imports fastapi or starlette."""
