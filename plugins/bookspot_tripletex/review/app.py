"""The review screen: a FastAPI app the Airflow API server mounts (plugin `bookspot_review`).

Every page and every JSON endpoint needs an Airflow login (the UI's `_token` cookie or a Bearer JWT):
reading needs read access to the nightly DAG's runs; releasing, re-running, approving and rejecting
the right to run it. Parameters, cross-site requests and security headers are checked in
`review.guard`; actions are written to Airflow's audit log (`review.audit`) once they have happened.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Annotated, Any

import yaml
from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import NoResultFound

from bookspot_tripletex import settings
from bookspot_tripletex.money import nok_text
from bookspot_tripletex.review import actions, audit, data, guard, prepayments
from bookspot_tripletex.review.actions import DAG_ID, ActionRefused
from bookspot_tripletex.review.guard import Day, IdQuery, RequiredId, TenantPath
from bookspot_tripletex.timeutil import day_text, moment_text

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
TEMPLATES.env.filters.update(nok=nok_text, day=day_text, moment=moment_text)
MAX_PREVIEW_DAYS = 31


@functools.lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    from bookspot_tripletex.staging.db import make_engine, migrate

    engine = make_engine(url)
    migrate(engine)
    return engine


def engine() -> Engine:
    return _engine(settings.staging_url())


READ = Depends(requires_access_dag("GET", DagAccessEntity.RUN, param_dag_id=DAG_ID))
RUN = Depends(requires_access_dag("POST", DagAccessEntity.RUN, param_dag_id=DAG_ID))
SAME_SITE = Depends(guard.same_site)
UserDep = Annotated[BaseUser, Depends(get_user)]


class ReleaseBody(BaseModel):
    reason: guard.Text = Field(min_length=1, max_length=500)
    rerun: bool = True


class DecisionBody(BaseModel):
    reason: guard.Text = Field("", max_length=500, description="required to reject; kept with the decision")


class PreviewBody(BaseModel):
    tenant_file: str = Field(min_length=1, max_length=200_000, description="the candidate tenant YAML")
    days: list[Day] = Field(min_length=1, max_length=MAX_PREVIEW_DAYS)


def _filters(
    problems: bool = False,
    tenant: Annotated[list[str] | None, Query()] = None,
    date_from: Day | None = None,
    date_to: Day | None = None,
) -> data.Filters:
    return data.Filters(problems, guard.tenant_ids(tenant), date_from, date_to)


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _page(request: Request, name: str, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, {"base": _base(request), "dag_id": DAG_ID, **context})


def _http_error(request: Request, exc: HTTPException) -> Response:
    """401/403 stay 401/403; a browser gets a page with the way to Airflow's login form."""
    if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
        login = get_auth_manager().get_url_login(next_url=str(request.url))
        page = TEMPLATES.get_template("denied.html").render(
            status=exc.status_code, detail=exc.detail, login=login
        )
        return HTMLResponse(page, status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def create_app() -> FastAPI:
    app = FastAPI(title="BookSpot review", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(guard.SecurityHeaders)
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]

    def _day_or_404(tenant: str, day: dt.date) -> data.DayRow:
        with engine().connect() as conn:
            row = data.day_row(conn, tenant, day)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{tenant} {day}: no voucher built")
        return row

    @app.get("/", response_class=HTMLResponse, dependencies=[READ])
    def days_page(request: Request, filters: Annotated[data.Filters, Depends(_filters)]) -> HTMLResponse:
        with engine().connect() as conn:
            rows, tenants = data.day_rows(conn, filters), data.tenant_ids(conn)
        return _page(request, "days.html", rows=rows, tenants=tenants, filters=filters)

    @app.get("/api/days", dependencies=[READ])
    def days_json(filters: Annotated[data.Filters, Depends(_filters)]) -> list[dict[str, Any]]:
        with engine().connect() as conn:
            return [r.as_dict() for r in data.day_rows(conn, filters)]

    @app.get("/days/{tenant}/{day}", response_class=HTMLResponse, dependencies=[READ])
    def day_page(request: Request, tenant: TenantPath, day: Day, user: UserDep) -> Any:
        row = _day_or_404(tenant, day)
        with engine().connect() as conn:
            held = data.held_records(conn, tenant, day)
            chart = _chart(conn, tenant, day)
            versions, net = data.versions(conn, tenant, day), data.net(conn, tenant, day)
        may_run = get_auth_manager().is_authorized_dag(
            method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=DAG_ID), user=user
        )
        with engine().connect() as conn:
            approvals = data.approval_history(conn, tenant, day)
        return _page(
            request,
            "day.html",
            row=row,
            held=held,
            chart=chart,
            may_run=may_run,
            approvals=approvals,
            versions=versions,
            net=net,
        )

    @app.get("/api/days/{tenant}/{day}/vouchers", dependencies=[READ])
    def day_vouchers(tenant: TenantPath, day: Day) -> dict[str, Any]:
        _day_or_404(tenant, day)
        with engine().connect() as conn:
            return {"versions": data.versions(conn, tenant, day), "net": data.net(conn, tenant, day)}

    @app.get("/reports/{tenant}/{day}", response_class=HTMLResponse, dependencies=[READ])
    def report_page(
        tenant: TenantPath, day: Day, version: IdQuery = None, chart: bool = True
    ) -> HTMLResponse:
        with engine().connect() as conn:
            page = data.report_html(conn, tenant, day, version, chart=chart)
        if page is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{tenant} {day}: no report")
        return HTMLResponse(page)

    @app.get("/api/reports/{tenant}/{day}", dependencies=[READ])
    def report_json(tenant: TenantPath, day: Day, version: IdQuery = None) -> dict[str, Any]:
        with engine().connect() as conn:
            found = data.report(conn, tenant, day, version)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{tenant} {day}: no report")
        return found

    @app.get("/tenants/{tenant}/chart.svg", dependencies=[READ])
    def chart_svg(tenant: TenantPath, end: Day | None = None, weeks: int = Query(6, ge=1, le=26)) -> Response:
        with engine().connect() as conn:
            svg = _chart(conn, tenant, end or dt.date.today(), weeks)
        return Response(svg, media_type="image/svg+xml")

    @app.post(
        "/api/days/{tenant}/{day}/release",
        dependencies=[RUN, SAME_SITE],
    )
    def release(
        tenant: TenantPath,
        day: Day,
        body: ReleaseBody,
        user: UserDep,
        session: SessionDep,
    ) -> dict[str, Any]:
        row = _day_or_404(tenant, day)
        try:
            with engine().begin() as conn:
                done = actions.release(conn, tenant, day, user.get_name(), body.reason, row.status)
        except ActionRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        out: dict[str, Any] = {"released_records": done.records, "released_by": done.released_by}
        if body.rerun:
            try:
                out["run_id"] = actions.trigger_rerun(tenant, day, user.get_name(), session=session)
            except ActionRefused as exc:
                out["run_error"] = str(exc)
        audit.record(
            session,
            "bookspot_release_day",
            user,
            tenant,
            day,
            out.get("run_id"),
            reason=body.reason,
            rerun=body.rerun,
            released_records=done.records,
        )
        return out

    @app.post(
        "/api/days/{tenant}/{day}/rerun",
        dependencies=[RUN, SAME_SITE],
    )
    def rerun(tenant: TenantPath, day: Day, user: UserDep, session: SessionDep) -> dict[str, Any]:
        _day_or_404(tenant, day)
        try:
            run_id = actions.trigger_rerun(tenant, day, user.get_name(), session=session)
        except ActionRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        audit.record(session, "bookspot_rerun_day", user, tenant, day, run_id)
        return {"run_id": run_id}

    @app.get("/api/approvals", dependencies=[READ])
    def approvals_json(tenant: Annotated[list[str] | None, Query()] = None) -> list[dict[str, Any]]:
        with engine().connect() as conn:
            return data.awaiting_approval(conn, tuple(guard.tenant_ids(tenant)))

    def _decide(
        tenant: str, day: dt.date, body: DecisionBody, user: BaseUser, session: Any, approve: bool
    ) -> Any:
        _day_or_404(tenant, day)
        try:
            with engine().begin() as conn:
                out = actions.decide(conn, tenant, day, user.get_name(), approve, body.reason)
        except ActionRefused as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        if approve:
            try:
                out["run_id"] = actions.trigger_rerun(tenant, day, user.get_name(), session=session)
            except ActionRefused as exc:
                out["run_error"] = str(exc)
        event = "bookspot_approve_day" if approve else "bookspot_reject_day"
        audit.record(session, event, user, tenant, day, out.get("run_id"), reason=body.reason)
        return out

    @app.post("/api/days/{tenant}/{day}/approve", dependencies=[RUN, SAME_SITE])
    def approve(
        tenant: TenantPath, day: Day, body: DecisionBody, user: UserDep, session: SessionDep
    ) -> dict[str, Any]:
        return _decide(tenant, day, body, user, session, approve=True)

    @app.post("/api/days/{tenant}/{day}/reject", dependencies=[RUN, SAME_SITE])
    def reject(
        tenant: TenantPath, day: Day, body: DecisionBody, user: UserDep, session: SessionDep
    ) -> dict[str, Any]:
        if not body.reason.strip():
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "say why the day is rejected")
        return _decide(tenant, day, body, user, session, approve=False)

    @app.get("/tenants/{tenant}/mappings", response_class=HTMLResponse, dependencies=[READ])
    def mappings_page(request: Request, tenant: TenantPath, old: IdQuery = None, new: IdQuery = None) -> Any:
        from bookspot_tripletex.journal.mapping_preview import versions_in_use
        from bookspot_tripletex.tenants.diff import diff_versions

        with engine().connect() as conn:
            versions = versions_in_use(conn, tenant)
            if not versions:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"{tenant}: no mapping versions")
            if old is None and len(versions) > 1:
                old, new = versions[-2].id, versions[-1].id
            try:
                changes = diff_versions(conn, tenant, old, new) if old and new else []
            except (LookupError, NoResultFound) as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        return _page(
            request, "mappings.html", tenant=tenant, versions=versions, old=old, new=new, changes=changes
        )

    @app.get("/api/tenants/{tenant}/mappings", dependencies=[READ])
    def mappings_json(tenant: TenantPath) -> list[dict[str, Any]]:
        from bookspot_tripletex.journal.mapping_preview import versions_in_use

        with engine().connect() as conn:
            return [v.as_dict() for v in versions_in_use(conn, tenant)]

    @app.get("/api/tenants/{tenant}/mappings/diff", dependencies=[READ])
    def mappings_diff(tenant: TenantPath, old: RequiredId, new: RequiredId) -> list[dict[str, Any]]:
        from bookspot_tripletex.tenants.diff import diff_versions

        with engine().connect() as conn:
            try:
                return [c.as_dict() for c in diff_versions(conn, tenant, old, new)]
            except (LookupError, NoResultFound) as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc

    @app.post("/api/tenants/{tenant}/mappings/preview", dependencies=[READ, SAME_SITE])
    def mappings_preview(tenant: TenantPath, body: PreviewBody) -> list[dict[str, Any]]:
        from bookspot_tripletex.journal.mapping_preview import preview_candidate
        from bookspot_tripletex.tenants.config import TenantConfigError, parse_tenant

        try:
            candidate = parse_tenant(yaml.safe_load(body.tenant_file), "candidate tenant file")
        except (TenantConfigError, yaml.YAMLError) as exc:
            raise HTTPException(422, str(exc)) from exc
        if candidate.tenant != tenant:
            raise HTTPException(422, f"the file is {candidate.tenant}'s")
        with engine().connect() as conn:
            return [c.as_dict() for c in preview_candidate(conn, candidate, body.days)]

    prepayments.add_routes(app, engine, _page, READ)
    return app


def _chart(conn: Any, tenant: str, end: dt.date, weeks: int = 6) -> str:
    from bookspot_tripletex.validation.chart import tenant_chart_svg

    return tenant_chart_svg(conn, tenant, end, weeks)
