// Swagger UI on this server's own description. A file rather than an inline script, so the page
// works under a Content-Security-Policy of script-src 'self'.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The default posts the document to an online validator: nothing may leave an offline install.
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true,
  });
});
