// The `xen-api` package ships no types; the tests describe what they use (XapiClient in the test).
declare module "xen-api" {
  export function createClient(options: Record<string, unknown>): unknown;
}
