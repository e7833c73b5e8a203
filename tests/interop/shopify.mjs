// Shopify's own webhook check, shared by catalogue.mjs and send.mjs: `webhooks.validate` of
// @shopify/shopify-api on its fetch (web-api) adapter, so a plain Request stands for the
// delivery. It checks the HMAC of the raw body, then the headers Shopify always sends; only
// the app's secret (apiSecretKey) matters to it.
import "@shopify/shopify-api/adapters/web-api";
import { shopifyApi, ApiVersion, LogSeverity } from "@shopify/shopify-api";

/** Whether Shopify's library takes `body` posted to `url` with `headers`, for `secret`. */
export async function shopifyValidates(secret, url, headers, body) {
  const shopify = shopifyApi({
    apiKey: "unused",
    apiSecretKey: secret,
    hostName: "receiver.test",
    apiVersion: ApiVersion.October25,
    isEmbeddedApp: false,
    logger: { level: LogSeverity.Error, log: async () => {} },
  });
  const rawRequest = new Request(url, { method: "POST", headers, body });
  const answer = await shopify.webhooks.validate({ rawBody: body, rawRequest });
  return answer.valid === true;
}
