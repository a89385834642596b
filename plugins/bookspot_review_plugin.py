"""Airflow plugin: the BookSpot review screen on the API server, its navigation entry, and the
'Review' and 'Tripletex' links on the nightly DAG's tasks. Thin on purpose: the app is built on its
first request."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from bookspot_tripletex.review.links import URL_PREFIX, ReviewLink, TripletexLink


class _ReviewApp:
    """An ASGI app that imports and builds the review app when the first request arrives."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from bookspot_tripletex.review.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class BookSpotReviewPlugin(AirflowPlugin):
    name = "bookspot_review"
    fastapi_apps = [{"app": _ReviewApp(), "url_prefix": URL_PREFIX, "name": "BookSpot review"}]
    external_views = [
        {
            "name": "BookSpot review",
            "href": URL_PREFIX + "/",
            "destination": "nav",
            "url_route": "bookspot-review",
            "category": "browse",
        }
    ]
    global_operator_extra_links = [ReviewLink(), TripletexLink()]
