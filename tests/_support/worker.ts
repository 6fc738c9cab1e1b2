/**
 * The test Worker's entry (`main` in wrangler.toml). The workerd leg runs the
 * test files inside this Worker's isolate; Durable Object classes that tests
 * bind to are exported from here.
 */
export default {
  fetch(): Response {
    return new Response("bulwark test worker");
  },
};
