"""The API's Swagger UI page under the console's Content-Security-Policy.

drf-spectacular's split view serves the page's start-up script from a URL of its own (no inline
script); our template drops the page's inline <style> for a static file, and the page alone also
takes data: images (Swagger UI's stylesheet draws its icons as data: SVGs).
"""
from csp.constants import SELF
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView


@method_decorator(csp_update({"img-src": [SELF, "data:"]}), name="get")
class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "console/api_docs.html"
