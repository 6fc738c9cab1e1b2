// The dependency: counts calls; POST /fail and /heal toggle it; GET /count.
import http from "node:http";
let failing = false, calls = 0;
http.createServer((req, res) => {
  if (req.url === "/fail") { failing = true; return res.end("failing\n"); }
  if (req.url === "/heal") { failing = false; return res.end("healthy\n"); }
  if (req.url === "/count") return res.end(String(calls));
  calls++;
  const fail = failing || req.url.includes("mode=fail");
  res.statusCode = fail ? 500 : 200;
  res.end(fail ? "down\n" : "fine\n");
}).listen(18901, "127.0.0.1", () => console.log("dependency on 18901"));
