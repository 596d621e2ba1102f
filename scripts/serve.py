#!/usr/bin/env python3
"""Serves www/ on 127.0.0.1:$PORT (default 8080). Any static server works; this one only adds
the right MIME type for .wasm and .mjs and never caches, which keeps development simple."""
import functools, http.server, os, pathlib

root = pathlib.Path(__file__).resolve().parent.parent / "www"
port = int(os.environ.get("PORT", "8080"))


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript"}

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


print(f"Serving the saliency viewer at http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Handler, directory=str(root))).serve_forever()
