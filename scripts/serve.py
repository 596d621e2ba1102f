#!/usr/bin/env python3
"""Serves www/ on 127.0.0.1:$PORT (default 8080). Any static server works; this one only adds
the right MIME type for .wasm and .mjs and never caches, which keeps development simple.

`--bench` also serves the browser benchmark page (bench/browser/, not part of the site) at
/bench/: http://127.0.0.1:$PORT/bench/bench.html runs it in whatever browser opens it."""
import functools, http.server, os, pathlib, sys

repo = pathlib.Path(__file__).resolve().parent.parent
root = repo / "www"
bench = repo / "bench" / "browser" if "--bench" in sys.argv[1:] else None
port = int(os.environ.get("PORT", "8080"))


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

    def translate_path(self, path):
        if bench and path.startswith("/bench/"):
            # (one handler per connection: the swap is this request's alone)
            site, self.directory = self.directory, str(bench)
            try:
                return super().translate_path(path[len("/bench"):])
            finally:
                self.directory = site
        return super().translate_path(path)

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


print(f"Serving the saliency viewer at http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
if bench:
    print(f"and the browser benchmark at http://127.0.0.1:{port}/bench/bench.html", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=str(root))).serve_forever()
