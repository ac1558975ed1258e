"""HTTP routes of the organisation domain: sign-in, divisions, units, people, users."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse

from yingji.core import security
from yingji.core.errors import Throttled, Unauthenticated
from yingji.core.security import Permission as P
from yingji.core.security import Principal
from yingji.core.web import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CurrentPrincipal,
    Require,
    Session,
    client_ip,
    get_settings,
)
from yingji.org import flows, imports, schemas, service

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
router = APIRouter(prefix="/api/v1", tags=["organisation"])

Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=1000)]


def me_of(principal: Principal, csrf: str | None = None) -> schemas.Me:
    return schemas.Me(
        id=principal.user_id,
        username=principal.username,
        display_name=principal.display_name,
        roles=sorted(principal.roles),
        permissions=sorted(principal.permissions),
        scope=schemas.ScopeRead(
            everything=principal.scope.everything,
            division_path=principal.scope.division_path,
            unit_id=principal.scope.unit_id,
        ),
        unit_id=principal.unit_id,
        csrf_token=csrf,
    )


def _policy(request: Request, *, bearer: bool) -> flows.SignInPolicy:
    settings = get_settings(request)
    ttl = settings.token_ttl_minutes if bearer else settings.session_ttl_minutes
    return flows.SignInPolicy(
        free_failures=settings.login_free_failures,
        delay=timedelta(seconds=settings.login_delay_seconds),
        max_delay=timedelta(seconds=settings.login_delay_max_seconds),
        window=timedelta(minutes=settings.login_window_minutes),
        address_free_failures=settings.login_address_free_failures,
        alert_failures=settings.login_alert_failures,
        ttl=timedelta(minutes=ttl),
    )


def _presented_token(request: Request) -> str:
    """The session cookie or bearer token this request was authenticated with."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE, "")


def _refuse(result: flows.SignInResult) -> JSONResponse:
    """Failed sign-ins answer without raising, so the failure count is committed."""
    if result.error == "too_many_attempts":
        error = Throttled(
            "too_many_attempts",
            "too many failed sign-ins; wait and try again",
            {"retry_after": result.retry_after},
            retry_after=result.retry_after,
        )
        return JSONResponse(
            error.to_body(), status_code=429, headers={"Retry-After": str(result.retry_after)}
        )
    body = Unauthenticated("invalid_credentials", "wrong username or password").to_body()
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})


@auth_router.post(
    "/login",
    response_model=schemas.LoginResponse,
    summary="Sign in from the browser: sets the session and CSRF cookies",
    responses={
        401: {"description": "invalid_credentials"},
        429: {"description": "too_many_attempts"},
    },
)
async def login(
    body: schemas.LoginRequest, request: Request, response: Response, session: Session
) -> Any:
    settings = get_settings(request)
    result = await flows.sign_in(
        session=session,
        username=body.username,
        password=body.password,
        kind="session",
        ip=client_ip(request, settings),
        user_agent=request.headers.get("user-agent"),
        policy=_policy(request, bearer=False),
    )
    if result.token is None or result.principal is None:
        return _refuse(result)
    csrf = security.csrf_token_for(result.token, settings.secret_key)
    max_age = settings.session_ttl_minutes * 60
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=max_age,
        httponly=False,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return schemas.LoginResponse(user=me_of(result.principal, csrf), csrf_token=csrf)


@auth_router.post(
    "/token",
    response_model=schemas.TokenResponse,
    summary="OAuth2 password grant for integrations: a bearer token",
    responses={
        401: {"description": "invalid_credentials"},
        429: {"description": "too_many_attempts"},
    },
)
async def token(
    request: Request,
    session: Session,
    username: Annotated[
        str,
        Form(
            min_length=1,
            max_length=schemas.USERNAME_MAX_LENGTH,
            pattern=schemas.SIGN_IN_NAME_PATTERN,
        ),
    ],
    password: Annotated[str, Form(min_length=1, max_length=schemas.PASSWORD_MAX_LENGTH)],
) -> Any:
    settings = get_settings(request)
    result = await flows.sign_in(
        session=session,
        username=username,
        password=password,
        kind="bearer",
        ip=client_ip(request, settings),
        user_agent=request.headers.get("user-agent"),
        policy=_policy(request, bearer=True),
    )
    if result.token is None:
        return _refuse(result)
    return schemas.TokenResponse(
        access_token=result.token, expires_in=settings.token_ttl_minutes * 60
    )


@auth_router.get("/me", response_model=schemas.Me, summary="Who is signed in")
async def me(request: Request, principal: CurrentPrincipal) -> schemas.Me:
    csrf = None
    if principal.auth == "session":
        csrf = security.csrf_token_for(
            request.cookies.get(SESSION_COOKIE, ""), get_settings(request).secret_key
        )
    return me_of(principal, csrf)


def _signed_out(status_code: int = 204) -> Response:
    response = Response(status_code=status_code)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@auth_router.post("/logout", status_code=204, summary="Sign out (revokes the session or token)")
async def logout(request: Request, session: Session, principal: CurrentPrincipal) -> Response:
    await flows.sign_out(session=session, principal=principal, token=_presented_token(request))
    return _signed_out()


@auth_router.post(
    "/logout-all",
    status_code=204,
    summary="Sign out everywhere: revokes every session and token of your account",
)
async def logout_all(session: Session, principal: CurrentPrincipal) -> Response:
    await flows.sign_out_everywhere(session=session, principal=principal)
    return _signed_out()


# --- divisions -----------------------------------------------------------------------------------


@router.get(
    "/divisions",
    response_model=schemas.DivisionPage,
    tags=["divisions"],
    summary="Divisions in your area (filter by parent, level, name)",
)
async def list_divisions(
    session: Session,
    me: Annotated[Principal, Require(P.ORG_READ)],
    parent: str | None = None,
    level: schemas.DivisionLevel | None = None,
    q: str | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.DivisionPage:
    rows, total = await service.list_divisions(
        session=session,
        scope=me.scope,
        parent_adcode=parent,
        level=level,
        q=q,
        offset=offset,
        limit=limit,
    )
    return schemas.DivisionPage(
        items=[schemas.DivisionRead.model_validate(r) for r in rows], total=total
    )


@router.get(
    "/divisions.geojson",
    tags=["divisions"],
    summary="Division boundaries as a GeoJSON FeatureCollection (the offline base map)",
)
async def divisions_geojson(
    session: Session,
    me: Annotated[Principal, Require(P.ORG_READ)],
    level: schemas.DivisionLevel | None = None,
    parent: str | None = None,
) -> dict[str, Any]:
    rows, _ = await service.list_divisions(
        session=session, scope=me.scope, parent_adcode=parent, level=level, offset=0, limit=5000
    )
    features = [
        {
            "type": "Feature",
            "id": row.adcode,
            "geometry": row.boundary,
            "properties": {
                "adcode": row.adcode,
                "name": row.name,
                "level": row.level,
                "centroid": [row.centroid_lon, row.centroid_lat],
            },
        }
        for row in rows
        if row.boundary is not None
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get(
    "/divisions/{adcode}",
    response_model=schemas.DivisionDetail,
    tags=["divisions"],
    summary="One division with its boundary",
    responses={404: {}},
)
async def get_division(
    adcode: str, session: Session, me: Annotated[Principal, Require(P.ORG_READ)]
) -> Any:
    return await service.get_division_or_raise(session=session, adcode=adcode, scope=me.scope)


@router.post(
    "/divisions",
    response_model=schemas.DivisionDetail,
    status_code=201,
    tags=["divisions"],
    summary="Add a division under one in your area",
)
async def create_division(
    body: schemas.DivisionCreate, session: Session, me: Annotated[Principal, Require(P.ORG_WRITE)]
) -> Any:
    return await flows.create_division(session=session, principal=me, data=body)


@router.patch(
    "/divisions/{adcode}",
    response_model=schemas.DivisionDetail,
    tags=["divisions"],
    summary="Rename a division or replace its boundary",
)
async def update_division(
    adcode: str,
    body: schemas.DivisionUpdate,
    session: Session,
    me: Annotated[Principal, Require(P.ORG_WRITE)],
) -> Any:
    return await flows.update_division(session=session, principal=me, adcode=adcode, data=body)


# --- units ---------------------------------------------------------------------------------------


@router.get(
    "/units",
    response_model=schemas.UnitPage,
    tags=["units"],
    summary="Linkage units you may see (filter by division subtree, tier, kind, text)",
)
async def list_units(
    session: Session,
    me: Annotated[Principal, Require(P.ORG_READ)],
    division: str | None = None,
    tier: Annotated[int | None, Query(ge=1, le=3)] = None,
    kind: schemas.UnitKind | None = None,
    q: str | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.UnitPage:
    rows, total = await service.list_units(
        session=session,
        scope=me.scope,
        division_adcode=division,
        tier=tier,
        kind=kind,
        q=q,
        offset=offset,
        limit=limit,
    )
    return schemas.UnitPage(items=[schemas.UnitRead.model_validate(r) for r in rows], total=total)


@router.get(
    "/units/{unit_id}", response_model=schemas.UnitRead, tags=["units"], responses={404: {}}
)
async def get_unit(
    unit_id: uuid.UUID, session: Session, me: Annotated[Principal, Require(P.ORG_READ)]
) -> Any:
    return await service.get_unit_or_raise(session=session, unit_id=unit_id, scope=me.scope)


@router.post("/units", response_model=schemas.UnitRead, status_code=201, tags=["units"])
async def create_unit(
    body: schemas.UnitCreate, session: Session, me: Annotated[Principal, Require(P.ORG_WRITE)]
) -> Any:
    return await flows.create_unit(session=session, principal=me, data=body)


@router.patch("/units/{unit_id}", response_model=schemas.UnitRead, tags=["units"])
async def update_unit(
    unit_id: uuid.UUID,
    body: schemas.UnitUpdate,
    session: Session,
    me: Annotated[Principal, Require(P.ORG_WRITE)],
) -> Any:
    return await flows.update_unit(session=session, principal=me, unit_id=unit_id, data=body)


# --- people --------------------------------------------------------------------------------------


@router.get("/people", response_model=schemas.PersonPage, tags=["people"])
async def list_people(
    session: Session,
    me: Annotated[Principal, Require(P.ORG_READ)],
    unit_id: uuid.UUID | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.PersonPage:
    rows, total = await service.list_people(
        session=session, scope=me.scope, unit_id=unit_id, offset=offset, limit=limit
    )
    return schemas.PersonPage(
        items=[schemas.PersonRead.model_validate(r) for r in rows], total=total
    )


@router.get(
    "/people/{person_id}", response_model=schemas.PersonRead, tags=["people"], responses={404: {}}
)
async def get_person(
    person_id: uuid.UUID, session: Session, me: Annotated[Principal, Require(P.ORG_READ)]
) -> Any:
    return await service.get_person_or_raise(session=session, person_id=person_id, scope=me.scope)


@router.post("/people", response_model=schemas.PersonRead, status_code=201, tags=["people"])
async def create_person(
    body: schemas.PersonCreate, session: Session, me: Annotated[Principal, Require(P.ORG_WRITE)]
) -> Any:
    return await flows.create_person(session=session, principal=me, data=body)


@router.patch("/people/{person_id}", response_model=schemas.PersonRead, tags=["people"])
async def update_person(
    person_id: uuid.UUID,
    body: schemas.PersonUpdate,
    session: Session,
    me: Annotated[Principal, Require(P.ORG_WRITE)],
) -> Any:
    return await flows.update_person(session=session, principal=me, person_id=person_id, data=body)


# --- users ---------------------------------------------------------------------------------------


@router.get("/users", response_model=schemas.UserPage, tags=["users"])
async def list_users(
    session: Session,
    me: Annotated[Principal, Require(P.USER_MANAGE)],
    offset: Offset = 0,
    limit: Limit = 100,
) -> schemas.UserPage:
    rows, total = await service.list_users(
        session=session, scope=me.scope, offset=offset, limit=limit
    )
    return schemas.UserPage(items=[schemas.UserRead.model_validate(r) for r in rows], total=total)


@router.get(
    "/users/{user_id}", response_model=schemas.UserRead, tags=["users"], responses={404: {}}
)
async def get_user(
    user_id: uuid.UUID, session: Session, me: Annotated[Principal, Require(P.USER_MANAGE)]
) -> Any:
    return await service.get_user_or_raise(session=session, user_id=user_id, scope=me.scope)


@router.post(
    "/users",
    response_model=schemas.UserRead,
    status_code=201,
    tags=["users"],
    responses={
        409: {"description": "username_taken (whatever the case)"},
        422: {"description": "weak_password (details.reasons), role_needs_unit, scope_required"},
    },
)
async def create_user(
    body: schemas.UserCreate, session: Session, me: Annotated[Principal, Require(P.USER_MANAGE)]
) -> Any:
    return await flows.create_user(session=session, principal=me, data=body)


@router.patch(
    "/users/{user_id}",
    response_model=schemas.UserRead,
    tags=["users"],
    summary="Change an account; a new password or deactivation ends its sessions and tokens",
    responses={
        403: {"description": "cannot_deactivate_self, cannot_demote_self, outside_scope"},
        409: {"description": "last_administrator"},
        422: {"description": "weak_password (details.reasons), role_needs_unit"},
    },
)
async def update_user(
    user_id: uuid.UUID,
    body: schemas.UserUpdate,
    request: Request,
    session: Session,
    me: Annotated[Principal, Require(P.USER_MANAGE)],
) -> Any:
    return await flows.update_user(
        session=session,
        principal=me,
        user_id=user_id,
        change=body,
        current_token=_presented_token(request),
    )


@router.post(
    "/users/{user_id}/logout-all",
    status_code=204,
    tags=["users"],
    summary="Sign an account out everywhere: revokes all its sessions and tokens",
    responses={404: {}},
)
async def logout_user_everywhere(
    user_id: uuid.UUID, session: Session, me: Annotated[Principal, Require(P.USER_MANAGE)]
) -> Response:
    await flows.sign_out_everywhere(session=session, principal=me, user_id=user_id)
    return Response(status_code=204)


# --- imports -------------------------------------------------------------------------------------

ImportFile = Annotated[
    UploadFile, File(description="CSV (UTF-8 or GB18030), .xlsx (first sheet) or GeoJSON")
]


@router.post(
    "/divisions:import",
    response_model=schemas.ImportReport,
    tags=["divisions"],
    summary="Import divisions from CSV, .xlsx or GeoJSON: all rows or none",
    responses={422: {"description": "import_failed, with details.errors by line"}},
)
async def import_divisions(
    file: ImportFile, session: Session, me: Annotated[Principal, Require(P.ORG_WRITE)]
) -> Any:
    parsed = imports.parse_divisions(await file.read(), file.filename or "upload.csv")
    created, updated = await flows.import_divisions(session=session, principal=me, parsed=parsed)
    return schemas.ImportReport(created=created, updated=updated, errors=[])


@router.post(
    "/units:import",
    response_model=schemas.ImportReport,
    tags=["units"],
    summary="Import linkage units from CSV, .xlsx or GeoJSON: all rows or none",
    responses={422: {"description": "import_failed, with details.errors by line"}},
)
async def import_units(
    file: ImportFile, session: Session, me: Annotated[Principal, Require(P.ORG_WRITE)]
) -> Any:
    parsed = imports.parse_units(await file.read(), file.filename or "upload.csv")
    created, updated = await flows.import_units(session=session, principal=me, parsed=parsed)
    return schemas.ImportReport(created=created, updated=updated, errors=[])
