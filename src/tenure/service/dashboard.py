"""The dashboard's routes (``/dash/...``): every page as HTML, its JSON twin and its tables as
CSV, the profile search and page with the privacy actions, the login.

``/dash/`` is the overview; ``/dash/{page}`` a page of :data:`tenure.dashboard.pages.PAGES`,
``/dash/{page}.json`` exactly its :meth:`~tenure.dashboard.model.Page.to_json`,
``/dash/{page}/{table}.csv`` one of its tables. Query parameters ``start``, ``end``,
``compare_start``, ``compare_end`` (YYYY-MM-DD) choose the period (default: the 30 days
ending on the store's as-of day, against the 30 before) and ``lang`` the language. Every
route but the login asks for a session (:mod:`tenure.service.dash_auth`); an unknown or
deleted person answers 404 saying nothing about them. Errors have the service's one body.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tenure.analytics.customers import search_customers
from tenure.config import Settings
from tenure.dashboard import report as dash_report
from tenure.dashboard.draw import (
    Frame,
    NavItem,
    find_table,
    page_memo,
    render_page,
    render_sections,
    render_template,
    table_csv,
)
from tenure.dashboard.i18n import Translator, check_language, choose_language
from tenure.dashboard.model import N_, Column, Page, Table, Window
from tenure.dashboard.pages.common import LABELS, PERSON, PROFILE_LINK
from tenure.dashboard.pages.flow import find_flow
from tenure.engage.flows import set_paused
from tenure.errors import ConfigError, NotFoundError
from tenure.identity.lookup import find_person
from tenure.identity.privacy import delete_person, export_person
from tenure.pipeline import ensure_current
from tenure.pipeline.dashboard import stored_for
from tenure.service import dash_auth
from tenure.service.errors import ServiceError
from tenure.service.pages import plain, state_of
from tenure.service.state import ServiceState
from tenure.store import Store, reporting_currency

router = APIRouter(tags=["dashboard"], include_in_schema=False)

PREFIX = "/dash"
Day = Annotated[date | None, Query(description="YYYY-MM-DD")]
Lang = Annotated[str | None, Query(description="en, fr or es")]
#: The period's query parameters: start, end, compare_start, compare_end.
PeriodArgs = tuple[date | None, date | None, date | None, date | None]


def period_args(
    start: Day = None, end: Day = None, compare_start: Day = None, compare_end: Day = None
) -> PeriodArgs:
    """The query's period parameters, as :func:`window_of` takes them."""
    return (start, end, compare_start, compare_end)


Period = Annotated[PeriodArgs, Depends(period_args)]
#: What a deleted or unknown person's page says (nothing about them).
NO_PERSON = "No person matches."
#: Messages of the routes, drawn translated.
BAD_LOGIN = N_("The user, password or token is not right.")
DELETED = N_("The person was deleted.")


def _session(request: Request) -> dash_auth.Session | None:
    return dash_auth.session_of(state_of(request), request)


def _need_session(request: Request, *, html: bool) -> dash_auth.Session:
    """The request's session; without one, a redirect to the login form (pages) or a 401
    (JSON, CSV)."""
    session = _session(request)
    if session is not None:
        return session
    if html:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise ServiceError(
            303,
            "Log in first.",
            headers={"Location": f"{PREFIX}/login?{urlencode({'next': target})}"},
        )
    raise ServiceError(
        401,
        "The dashboard needs a login: a session cookie from /dash/login or an admin token "
        "(`Authorization: Bearer <token>`).",
        headers={"WWW-Authenticate": 'Bearer realm="tenure"'},
    )


def window_of(
    store: Store,
    start: date | None,
    end: date | None,
    compare_start: date | None,
    compare_end: date | None,
) -> Window:
    """The period of the query (:func:`tenure.dashboard.report.window_for`); a 400 naming
    the parameter when it runs backwards."""
    try:
        return dash_report.window_for(store, start, end, compare_start, compare_end)
    except ConfigError as exc:
        field = "compare_start" if "comparison" in exc.message else "start"
        raise ServiceError(400, exc.message, field=field) from None


def _translator(
    request: Request, state: ServiceState, lang: str | None, currency: str
) -> Translator:
    accept = request.headers.get("accept-language")
    return Translator(choose_language(lang, accept, state.settings.dashboard_language), currency)


def _frame(
    request: Request,
    session: dash_auth.Session,
    current: str,
    *,
    csv: bool = True,
    csv_base: str | None = None,
    **extra: Any,
) -> Frame:
    """The menu, the language links (this URL with ``lang`` changed), the forms' token."""
    query = {k: v for k, v in request.query_params.items() if k not in ("lang", DONE)}
    languages = {
        code: f"{request.url.path}?{urlencode({**query, 'lang': code})}"
        for code in ("en", "fr", "es")
    }
    pages = [NavItem(key, title, f"{PREFIX}/{key}") for key, title in dash_report.menu()]
    nav = (*pages, NavItem("profile", N_("Profile"), f"{PREFIX}/profile"))
    window_query = f"?{urlencode(query)}" if query else ""
    return Frame(
        nav=nav,
        current=current,
        action=request.url.path,
        languages=languages,
        csrf=session.csrf,
        csv_url=f"{csv_base or PREFIX + '/' + current}/{{table}}.csv{window_query}" if csv else "",
        user=session.user,
        extra=extra,
        links=dash_report.LINKED,
    )


def _built(
    state: ServiceState, period: PeriodArgs, make: Callable[[Store, Window], Page], missing: str
) -> Page:
    """``make``'s page for the query's period; a 404 saying ``missing`` when it finds
    nothing (a ``NotFoundError``)."""
    with state.store() as store:
        window = window_of(store, *period)
        try:
            return make(store, window)
        except NotFoundError:
            raise ServiceError(404, missing) from None


def stale_ok(settings: Settings) -> bool:
    """Whether a kept page that no longer holds is served marked stale rather than built on
    request: when the worker runs the pipeline, whose ``dashboard`` step keeps it anew."""
    return settings.worker_pipeline_every > 0


def _build(state: ServiceState, key: str, period: PeriodArgs) -> Page:
    if period == (None, None, None, None):  # the default period, from memory when held
        page = dash_report.held(key, state.owned, stale_ok=stale_ok(state.settings))
        if page is not None:
            return page

    def make(store: Store, window: Window) -> Page:
        stale = stale_ok(state.settings)
        return dash_report.build(
            key, store, state.settings, window, stored_for(store), stale_ok=stale
        )

    return _built(state, period, make, f"No dashboard page named {key!r}.")


def predraw(page: Page, settings: Settings) -> None:
    """Draw the sections of menu page ``page`` as its first plain request (no query, the
    ``dashboard_language`` setting) will: the drawing is kept with the page
    (:func:`tenure.dashboard.draw.render_sections`), so that request only fills the frame."""
    tr = Translator(check_language(settings.dashboard_language), page.currency)
    frame = Frame(csv_url=f"{PREFIX}/{page.key}/{{table}}.csv", links=dash_report.LINKED)
    render_sections(page, tr, frame)


def _json(request: Request, make: Callable[[ServiceState], Page]) -> Response:
    """A page's JSON twin (a 401 without a session)."""
    _need_session(request, html=False)
    page = make(state_of(request))
    body = page_memo(page, "json", lambda: JSONResponse(page.to_json()).body)
    return Response(body, media_type="application/json")


def _html(
    request: Request,
    page: Callable[[ServiceState], Page],
    lang: str | None,
    frame: Callable[[dash_auth.Session, Page], Frame],
    template: str = "page.html",
) -> Response:
    """A page drawn in the reader's language inside the frame (a redirect to the login
    without a session)."""
    session = _need_session(request, html=True)
    state = state_of(request)
    built = page(state)
    tr = _translator(request, state, lang, built.currency)
    return HTMLResponse(render_page(built, tr, frame(session, built), template=template))


# -- login --------------------------------------------------------------------------------


@router.get(f"{PREFIX}/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = f"{PREFIX}/", lang: Lang = None) -> Response:
    state = state_of(request)
    return _login_page(request, state, next, lang, error=None)


def _login_page(
    request: Request, state: ServiceState, next: str, lang: str | None, error: str | None
) -> Response:
    tr = _translator(request, state, lang, "USD")
    token, new = dash_auth.login_csrf(request)
    html = render_template(
        "login.html",
        tr,
        frame=Frame(),
        csrf=token,
        next=_safe_next(next),
        error=error,
        can_log_in=dash_auth.can_log_in(state),
    )
    response = HTMLResponse(html, status_code=401 if error else 200)
    if new:
        dash_auth.set_login_csrf(request, response, token)
    return response


def _safe_next(target: str) -> str:
    """A redirect target inside the dashboard only (never another site)."""
    ok = target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target
    return target if ok else f"{PREFIX}/"


async def _form(request: Request) -> dict[str, str]:
    """An url-encoded form's fields (the first value of each)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


@router.post(f"{PREFIX}/login")
async def login(request: Request) -> Response:
    state = state_of(request)
    form = await _form(request)
    dash_auth.check_login_csrf(request, form.get("csrf"))
    user = dash_auth.check_login(state, form.get("user", "").strip(), form.get("password", ""))
    lang = form.get("lang") or None
    if user is None:
        return _login_page(request, state, form.get("next", ""), lang, error=BAD_LOGIN)
    response = RedirectResponse(_safe_next(form.get("next", "")), status_code=303)
    dash_auth.start_session(state, request, response, user)
    return response


@router.post(f"{PREFIX}/logout")
async def logout(request: Request) -> Response:
    session = _need_session(request, html=True)
    dash_auth.check_csrf(session, (await _form(request)).get("csrf"))
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    dash_auth.end_session(response)
    return response


# -- the profile ---------------------------------------------------------------------------


@router.get(f"{PREFIX}/profile", response_class=HTMLResponse)
def profile_search(
    request: Request, q: str | None = None, deleted: int = 0, lang: Lang = None
) -> Response:
    """Search a person by any identifier, name or order id."""
    session = _need_session(request, html=True)
    state = state_of(request)
    results = None
    with state.store() as store:
        currency = reporting_currency(store)
        if q and q.strip():
            if not store.read_only:  # as `tenure customers search`: the statuses current first
                ensure_current(store, "customer_status")
            results = _search_table(search_customers(store, q.strip(), limit=50))
    tr = _translator(request, state, lang, currency)
    frame = _frame(
        request, session, "profile", csv=False, query=q or "", message=DELETED if deleted else ""
    )
    return HTMLResponse(render_template("search.html", tr, frame=frame, results=results))


#: The columns of the search's results (``tenure customers search``).
SEARCH_COLUMNS = (
    PERSON,
    *LABELS,
    Column("name", N_("Name"), "text"),
    Column("status", N_("Status"), "text"),
    Column("orders", N_("Orders"), "count"),
    Column("revenue", N_("Revenue"), "money"),
    Column("last_order", N_("Last order"), "date"),
)


def _search_table(frame: Any) -> Table:
    keys = [c.key for c in SEARCH_COLUMNS]
    rows = tuple(tuple(plain(record.get(k)) for k in keys) for record in frame.to_dict("records"))
    return Table("matches", N_("People found"), SEARCH_COLUMNS, rows, link=PROFILE_LINK)


def _profile_page(state: ServiceState, identifier: str, period: PeriodArgs) -> Page:
    def make(store: Store, window: Window) -> Page:
        return dash_report.profile(store, state.settings, window, identifier)

    return _built(state, period, make, NO_PERSON)


@router.get(f"{PREFIX}/profile/{{identifier}}.json")
def profile_json(request: Request, identifier: str, period: Period) -> Response:
    return _json(request, lambda state: _profile_page(state, identifier, period))


@router.get(f"{PREFIX}/profile/{{identifier}}", response_class=HTMLResponse)
def profile_page(request: Request, identifier: str, period: Period, lang: Lang = None) -> Response:
    base = f"{PREFIX}/profile/{quote(identifier, safe='')}"

    def frame(session: dash_auth.Session, built: Page) -> Frame:
        return _frame(
            request,
            session,
            "profile",
            csv=False,
            query=identifier,
            export_url=f"{base}/export",
            delete_url=f"{base}/delete",
        )

    def page(state: ServiceState) -> Page:
        return _profile_page(state, identifier, period)

    return _html(request, page, lang, frame, template="profile.html")


@router.post(f"{PREFIX}/profile/{{identifier}}/export")
async def profile_export(request: Request, identifier: str) -> Response:
    """Everything held on the person, as a JSON download (`tenure privacy export`)."""
    session = _need_session(request, html=True)
    dash_auth.check_csrf(session, (await _form(request)).get("csrf"))
    with state_of(request).store() as store:
        try:
            doc = export_person(store, identifier)
        except NotFoundError:
            raise ServiceError(404, NO_PERSON) from None
    headers = {"Content-Disposition": 'attachment; filename="person-export.json"'}
    return JSONResponse(plain(doc), headers=headers)


@router.post(f"{PREFIX}/profile/{{identifier}}/delete")
async def profile_delete(request: Request, identifier: str) -> Response:
    """Delete the person everywhere (`tenure privacy delete`), then back to the search."""
    session = _need_session(request, html=True)
    form = await _form(request)
    dash_auth.check_csrf(session, form.get("csrf"))
    if form.get("confirm") != "yes":
        raise ServiceError(400, "Tick the confirmation box to delete the person.", field="confirm")
    with state_of(request).store() as store:
        try:
            person = find_person(store, identifier).person_id
        except NotFoundError:
            raise ServiceError(404, NO_PERSON) from None
        delete_person(store, f"person_id:{person}")
    return RedirectResponse(f"{PREFIX}/profile?deleted=1", status_code=303)


# -- the pages -----------------------------------------------------------------------------


@router.get(f"{PREFIX}/{{page}}.json")
def page_json(request: Request, page: str, period: Period) -> Response:
    """The page's JSON twin: exactly the numbers the page shows."""
    return _json(request, lambda state: _build(state, page, period))


@router.get(f"{PREFIX}/{{page}}/{{table}}.csv")
def page_csv(request: Request, page: str, table: str, period: Period) -> Response:
    """One table of the page as CSV (raw values, unknown empty)."""
    _need_session(request, html=False)
    return _csv(_build(state_of(request), page, period), table, page)


def _csv(built: Page, table: str, name: str) -> Response:
    found = find_table(built, table)
    if found is None:
        raise ServiceError(404, f"The page {built.key!r} has no table {table!r}.")
    headers = {"Content-Disposition": f'attachment; filename="{name}-{table}.csv"'}
    return Response(table_csv(found), media_type="text/csv; charset=utf-8", headers=headers)


# -- a flow's page and a segment's page; pausing and resuming a flow -----------------------

#: The pages a flow's or a segment's name opens (``/dash/flows/{name}``,
#: ``/dash/segments/{name}``) and what their 404 says.
NAMED = {"flows": "No flow named {!r}.", "segments": "No segment named {!r}."}
#: The query parameter of the page a pause or resume goes back to (``paused:NAME``,
#: ``resumed:NAME``), shown once as a notice.
DONE = "done"


def _named(state: ServiceState, kind: str, name: str, period: PeriodArgs) -> Page:
    """The page of the flow or segment ``name`` (:func:`tenure.dashboard.report.detail`);
    a 404 for another kind or an unknown name."""
    missing = NAMED.get(kind)
    if missing is None:
        raise ServiceError(404, f"No dashboard page named {kind!r}.")

    def make(store: Store, window: Window) -> Page:
        return dash_report.detail(kind, store, state.settings, window, name)

    return _built(state, period, make, missing.format(name))


def _controls(page: Page) -> list[dict[str, Any]]:
    """The pause or resume button of each flow the page shows: the Flows page's table of
    every flow, a flow's page's first table."""
    table = find_table(page, "about" if page.key == "flow" else "states")
    keys = [c.key for c in table.columns] if table is not None else []
    if table is None or "flow" not in keys or "state" not in keys:
        return []
    at, state_at = keys.index("flow"), keys.index("state")
    states = [(row[at], row[state_at]) for row in table.rows]
    return [
        {
            "flow": str(flow),
            "paused": state == "paused",
            "action": f"{PREFIX}/flows/{quote(str(flow), safe='')}/"
            + ("resume" if state == "paused" else "pause"),
        }
        for flow, state in states
        if flow is not None
    ]


def _done(request: Request) -> dict[str, Any] | None:
    what, _, flow = request.query_params.get(DONE, "").partition(":")
    return {"flow": flow, "paused": what == "paused"} if flow and what else None


def _flow_frame(request: Request, session: dash_auth.Session, built: Page, **kw: Any) -> Frame:
    """The frame of the Flows page and a flow's page: their buttons, where they go back to."""
    query = {k: v for k, v in request.query_params.items() if k != DONE}
    here = request.url.path + (f"?{urlencode(query)}" if query else "")
    return _frame(
        request,
        session,
        "flows",
        controls=_controls(built),
        next=here,
        done=_done(request),
        **kw,
    )


@router.get(f"{PREFIX}/{{kind}}/{{name}}.json")
def named_json(request: Request, kind: str, name: str, period: Period) -> Response:
    """The JSON twin of a flow's or a segment's page."""
    return _json(request, lambda state: _named(state, kind, name, period))


@router.get(f"{PREFIX}/{{kind}}/{{name}}/{{table}}.csv")
def named_csv(request: Request, kind: str, name: str, table: str, period: Period) -> Response:
    """One table of a flow's or a segment's page as CSV (a segment's members...)."""
    _need_session(request, html=False)
    return _csv(_named(state_of(request), kind, name, period), table, f"{kind}-{name}")


@router.get(f"{PREFIX}/{{kind}}/{{name}}", response_class=HTMLResponse)
def named_html(
    request: Request, kind: str, name: str, period: Period, lang: Lang = None
) -> Response:
    """A flow's page (with its pause or resume button) or a segment's page."""
    base = f"{PREFIX}/{kind}/{quote(name, safe='')}"

    def frame(session: dash_auth.Session, built: Page) -> Frame:
        if kind == "flows":
            return _flow_frame(request, session, built, csv_base=base)
        return _frame(request, session, "customers", csv_base=base)

    def page(state: ServiceState) -> Page:
        return _named(state, kind, name, period)

    template = "flows.html" if kind == "flows" else "page.html"
    return _html(request, page, lang, frame, template=template)


@router.post(f"{PREFIX}/flows/{{name}}/{{action}}")
async def flow_control(request: Request, name: str, action: str) -> Response:
    """Pause or resume a flow (`tenure flows pause` / `resume`:
    ``tenure.engage.flows.set_paused``), then back to the page the form was on, which
    shows the new state."""
    session = _need_session(request, html=True)
    form = await _form(request)
    dash_auth.check_csrf(session, form.get("csrf"))
    if action not in ("pause", "resume"):
        raise ServiceError(404, f"No flow action {action!r}.", hint="Use pause or resume.")
    state = state_of(request)
    with state.store() as store:
        try:
            flow = find_flow(state.settings, name)
        except NotFoundError:
            raise ServiceError(404, NAMED["flows"].format(name)) from None
        set_paused(store, flow, action == "pause", by=f"dashboard:{session.user}")
    back = _safe_next(form.get("next") or f"{PREFIX}/flows/{quote(name, safe='')}")
    done = f"{'paused' if action == 'pause' else 'resumed'}:{flow.name}"
    joiner = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joiner}{urlencode({DONE: done})}", status_code=303)


def _detail(state: ServiceState, path: str, item: str, period: PeriodArgs) -> Page:
    def make(store: Store, window: Window) -> Page:
        return dash_report.detail(path, store, state.settings, window, item)

    return _built(state, period, make, f"No dashboard page {path}/{item}.")


@router.get(f"{PREFIX}/{{page}}/{{kind}}/{{item}}.json")
def detail_json(request: Request, page: str, kind: str, item: str, period: Period) -> Response:
    """The JSON twin of a page a table links to (the members of an RFM cell)."""
    return _json(request, lambda state: _detail(state, f"{page}/{kind}", item, period))


@router.get(f"{PREFIX}/{{page}}/{{kind}}/{{item}}/{{table}}.csv")
def detail_csv(
    request: Request, page: str, kind: str, item: str, table: str, period: Period
) -> Response:
    _need_session(request, html=False)
    built = _detail(state_of(request), f"{page}/{kind}", item, period)
    return _csv(built, table, f"{page}-{kind}-{item}")


@router.get(f"{PREFIX}/{{page}}/{{kind}}/{{item}}", response_class=HTMLResponse)
def detail_html(
    request: Request, page: str, kind: str, item: str, period: Period, lang: Lang = None
) -> Response:
    """A page a table links to, under its page in the menu."""

    def frame(session: dash_auth.Session, built: Page) -> Frame:
        return _frame(request, session, page, csv_base=f"{PREFIX}/{page}/{kind}/{item}")

    return _html(request, lambda state: _detail(state, f"{page}/{kind}", item, period), lang, frame)


@router.get(f"{PREFIX}/", response_class=HTMLResponse)
@router.get(f"{PREFIX}/{{page}}", response_class=HTMLResponse)
def page_html(
    request: Request, period: Period, page: str = "overview", lang: Lang = None
) -> Response:
    """A page of the dashboard."""

    def frame(session: dash_auth.Session, built: Page) -> Frame:
        if built.key == "flows":
            return _flow_frame(request, session, built)
        return _frame(request, session, built.key)

    template = "flows.html" if page == "flows" else "page.html"
    return _html(request, lambda state: _build(state, page, period), lang, frame, template)
