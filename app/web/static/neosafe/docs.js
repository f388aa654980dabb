// Swagger UI on /docs (templates/docs.html). Set going here, not in an inline script, so the page keeps NeoSafe's
// content security policy. The schema is fetched from NeoSafe with the page's own sign-in.
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.schemaUrl,
  domNode: root,
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  validatorUrl: null, // never ask swagger.io's validator about NeoSafe's schema
});
