"""The API description: one OpenAPI 3.1 document merged from per-area YAML fragments in this
package, served at ``GET /api/v1/openapi.json`` with interactive docs at ``GET /api/docs``.

How to document a new endpoint: ``README.md`` here. Public surface: ``load_document`` (the merged
document, built once), ``build_document`` / ``merge`` (the loader, for tests and tools),
``FragmentError`` and ``add_routes``.
"""

from ._loader import FragmentError, build_document, load_document, merge
from ._routes import add_routes

__all__ = ["FragmentError", "add_routes", "build_document", "load_document", "merge"]
