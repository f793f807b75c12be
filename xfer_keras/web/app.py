"""The local web app: one page and a JSON API over :class:`~xfer_keras.web.service.ExplainService`.

    GET  /               the page: upload photos or a clip, or take a webcam snapshot
    GET  /api/health     {"status", "narrators", "limits"}
    POST /api/explain    multipart: file (one or more), faces, narrator, panels -> {"results": [...]}
    POST /api/emo        multipart: file (one clip), panels -> {"results": [...]}

Starlette (ASGI) served by uvicorn: small, and enough for one page and two endpoints; Gradio
would bring its own front end and a far larger install. A request's body is read only up to the
upload limit (413 past it), each file is checked by its content (415 for a kind we do not read),
written under a name the server makes up in a temporary folder that is deleted after the
request, and explained in a worker thread, so the server keeps answering. Errors are JSON
``{"error": one line}``. The schema is in ``docs/serve.md``.
"""

from __future__ import annotations

import contextlib

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from xfer_keras.errors import UploadError, XferError
from xfer_keras.web.page import page_html
from xfer_keras.web.service import ExplainService, ServeSettings
from xfer_keras.web.uploads import check_upload, display_name, save_upload, upload_folder


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


async def _limited_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise UploadError(f"the upload is {int(declared) / 1e6:.1f} MB, more than the "
                          f"{limit / 1e6:.0f} MB a request may send", status=413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadError(f"the upload is more than the {limit / 1e6:.0f} MB a request "
                              "may send", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _form(request: Request, limits) -> tuple[list[tuple[str, bytes]], dict]:
    """``([(display name, bytes) per file], {field: value})`` of a multipart request."""
    body = await _limited_body(request, limits.request_bytes)
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=limits.max_files,
                                                         max_fields=16)
    except Exception as error:  # the multipart parser's own errors: a malformed request
        raise UploadError(f"not a multipart upload ({error})", status=400) from error
    files, fields = [], {}
    for key, value in form.multi_items():
        if hasattr(value, "read"):
            files.append((display_name(value.filename, len(files)), await value.read()))
        else:
            fields[key] = str(value)
    await form.close()
    if not files:
        raise UploadError("no file in the upload (send it as the form field 'file')",
                          status=400)
    return files, fields


def _flag(fields: dict, name: str) -> bool:
    return fields.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def create_app(settings: ServeSettings = ServeSettings(), service: ExplainService | None = None):
    """The ASGI app. ``service`` (tests): an ExplainService made elsewhere, else one is made at
    start-up (the models load once) and closed at shutdown."""
    state = {"service": service}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        own = state["service"] is None
        if own:
            state["service"] = await run_in_threadpool(ExplainService, settings)
        try:
            yield
        finally:
            if own:
                state["service"].close()

    def current() -> ExplainService:
        if state["service"] is None:  # no lifespan (a plain test client): load on first use
            state["service"] = ExplainService(settings)
        return state["service"]

    async def page(request: Request):
        return HTMLResponse(page_html(current().narrators, settings.limits))

    async def health(request: Request):
        limits = settings.limits
        return JSONResponse({"status": "ok", "narrators": current().narrators,
                             "limits": {"photo_mb": limits.photo_mb, "clip_mb": limits.clip_mb,
                                        "clip_seconds": limits.clip_seconds,
                                        "files": limits.max_files}})

    async def explain(request: Request):
        return await _answer(request, emo=False)

    async def emo(request: Request):
        return await _answer(request, emo=True)

    async def _answer(request: Request, emo: bool):
        service = current()
        labels = {}  # the server's file -> the client's label, for every message
        try:
            files, fields = await _form(request, settings.limits)
            checked, refused = [], {}  # one refused photo never stops the others
            for position, (name, data) in enumerate(files):
                try:
                    checked.append((name, data, *check_upload(data, name, settings.limits)))
                except UploadError as error:
                    refused[position] = error
            if not checked:  # nothing to explain: the first file's status and reason
                raise next(iter(refused.values()))
            kinds = {kind for _, _, kind, _ in checked}
            if emo and kinds != {"video"}:
                raise UploadError("the EMO nets read a clip: send one video", status=415)
            if "video" in kinds and len(checked) > 1:
                raise UploadError("send one clip at a time (or photos only)", status=400)
            options = {"panels": _flag(fields, "panels")}
            if not emo:
                options.update(faces=fields.get("faces", "largest"),
                               narrator=fields.get("narrator", "template"))
            with upload_folder() as folder:
                paths = [save_upload(folder, i, data, suffix)
                         for i, (_, data, _, suffix) in enumerate(checked)]
                names = [name for name, *_ in checked]
                labels.update(zip(map(str, paths), names))
                if emo:
                    results = [await run_in_threadpool(service.emo_clip, paths[0], names[0],
                                                       **options)]
                elif kinds == {"video"}:
                    results = [await run_in_threadpool(service.explain_clip, paths[0], names[0],
                                                       **options)]
                else:
                    results = await run_in_threadpool(service.explain_photos, paths, names,
                                                      **options)
        except UploadError as error:
            return _error(error.status, str(error))
        except XferError as error:
            message = str(error)
            for path, name in labels.items():
                message = message.replace(path, name)
            return _error(422, message)
        if all("error" in r for r in results) and not refused:
            return _error(422, "; ".join(r["error"] for r in results))
        for position, error in sorted(refused.items()):  # back in the order they were sent
            results.insert(position, {"file": files[position][0], "kind": None,
                                      "error": str(error), "status": error.status})
        return JSONResponse({"results": results})

    routes = [Route("/", page), Route("/api/health", health),
              Route("/api/explain", explain, methods=["POST"]),
              Route("/api/emo", emo, methods=["POST"])]
    return Starlette(routes=routes, lifespan=lifespan)
