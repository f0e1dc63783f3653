"""Serving the app with gunicorn, the production WSGI server, from inside the CLI."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from api.app import create_app


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # type: ignore[no-untyped-def]
        return create_app()


def serve(host: str, port: int, workers: int) -> None:
    """Serve until interrupted; each worker builds its own app (and database engine)."""
    base = f"http://{host}:{port}"

    def when_ready(_server: Any) -> None:
        print(
            f"免证服务已启动：{base}/\n"
            f"  清单公开（证明事项目录）：{base}/catalog\n"
            f"  API 文档：{base}/api/v1/docs\n"
            f"  OpenAPI：{base}/api/v1/openapi.json\n"
            "按 Ctrl+C 停止。",
            flush=True,
        )

    _Gunicorn(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "when_ready": when_ready,
            "accesslog": "-",
            "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',  # no query strings: they may carry personal data
            "timeout": 60,
        }
    ).run()
