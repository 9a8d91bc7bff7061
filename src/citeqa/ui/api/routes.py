"""The REST API: ``POST /api/ask``, ``POST /api/feedback``, ``GET /api/search``, ``GET /healthz``.

Responses are exactly the library's JSON contract (``Answer.to_dict()``, ``Hit.to_dict()``), described
once by the response models below; every refusal is ``{"error": "..."}`` with a 4xx status, or a 503
when the server is busy. Engine calls go through the server's one gate
(``ui.server.admission.GatedEngine``): they wait their turn on the event loop, then run in the thread
pool, so the loop stays free for the chat's streams. With ``CITEQA_QUESTION_LOG=on`` each answer
of ``/api/ask`` is logged (``citeqa.store.recorder``) and ``/api/feedback`` rates it; feedback never
waits at the engine's gate, only for its one small write, in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from citeqa.errors import CiteqaError, InputError, Overloaded
from citeqa.qa.types import Outcome
from citeqa.settings import MAX_TOP_K, RetrieverName
from citeqa.store.questions import MAX_COMMENT_CHARS, FeedbackError, QuestionLog
from citeqa.store.recorder import Recorder, record_off_loop

if TYPE_CHECKING:
    from citeqa.ui.server.admission import GatedEngine

LOG_OFF = "no such answer: feedback is recorded only with CITEQA_QUESTION_LOG=on"
ANSWER_ID = r"^[0-9a-f]{32}$"  # Answer.id: secrets.token_hex(16)


class AskRequest(BaseModel):
    """The body of ``POST /api/ask``. Types are strict: ``"top_k": "5"`` is refused, not coerced."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"question": "拜登政府宣布對台軍售幾次？", "top_k": 5}]},
    )

    question: str = Field(description="the question, 1 to 1000 characters")
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K, description="passages to retrieve (default 5)")
    previous: str | None = Field(
        default=None,
        description="the previous question, so a short follow-up such as 那荷蘭呢？ keeps its context",
    )


class FeedbackRequest(BaseModel):
    """The body of ``POST /api/feedback``: a rating of one answer, by the ``id`` ``/api/ask`` gave it.

    The first rating sets it; the other rating may then replace it once (409 after that); the same
    rating again is accepted as it is, and a non-empty ``comment`` sent with it replaces the one kept.
    """

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={"examples": [{"id": "3f9c0a1b2c3d4e5f60718293a4b5c6d7", "rating": "down",
                                         "comment": "答案沒有提到日期"}]},
    )

    id: str = Field(pattern=ANSWER_ID, description="the answer's id, as POST /api/ask returned it")
    rating: Literal["up", "down"] = Field(description="up: the answer helped; down: it did not")
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS,
                         description=f"optional, at most {MAX_COMMENT_CHARS} characters; longer is refused, not cut")


class FeedbackOut(BaseModel):
    """The rating as it now stands."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the answer's id")
    rating: Literal["up", "down"]
    changed: int = Field(description="how often the rating was changed after it was first set: 0, or 1 (final)")


# The response models are the HTTP contract, written once: required fields are in every object,
# optional ones only when they apply, and no other key may appear (``extra="forbid"``). Tests derive
# the keys they check from these models and validate every ``to_dict()`` they see against them.
class HitOut(BaseModel):
    """One cited passage; ``quote_start:quote_end`` is the quoted sentence inside ``text``."""

    model_config = ConfigDict(extra="forbid")

    id: str
    section: list[str]
    label: str
    text: str
    score: float
    source: str
    start: int
    end: int
    page: int | None = None
    quote_start: int | None = None
    quote_end: int | None = None


class AnswerOut(BaseModel):
    """``answer`` holds ``[n]`` markers; marker n cites ``citations[n-1]``.

    ``outcome``: ``answered`` (cited quotes), ``uncertain`` (said first to possibly not answer the
    question, then cited quotes of the closest text), ``not_found`` (the documents do not answer;
    ``citations`` are the closest passages, for reference) or ``conversation`` (a greeting or a message
    with nothing to search for; a reply and no citations). ``grounded`` is true exactly when answered.
    ``confidence`` (0–1) is how likely the quoted answer is right.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="this answer's id: rate it with POST /api/feedback (when the log is on)")
    question: str
    answer: str
    grounded: bool
    citations: list[HitOut]
    outcome: Outcome
    confidence: float | None = Field(description="always present; null where nothing was scored")
    resolved: str | None = Field(default=None, description="only for a follow-up: the question it was read as")


class SearchOut(BaseModel):
    """The body of ``GET /api/search``."""

    model_config = ConfigDict(extra="forbid")

    query: str
    hits: list[HitOut]


class HealthOut(BaseModel):
    """The body of ``GET /healthz``."""

    status: str
    passages: int
    model: str


class ErrorOut(BaseModel):
    """Every refusal of the API: a 4xx, or a 503 when busy."""

    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad input (empty or too long question, malformed JSON)"},
    401: {"model": ErrorOut, "description": "missing or wrong token (when CITEQA_ACCESS_TOKEN is set)"},
    413: {"model": ErrorOut, "description": "request body over CITEQA_MAX_BODY_BYTES"},
    415: {"model": ErrorOut, "description": "the body is not sent as application/json"},
    503: {"model": ErrorOut, "description": "busy: too many questions waiting (with Retry-After), or no index"},
    422: {"model": ErrorOut, "description": "wrong types or values out of range"},
}


FEEDBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": ErrorOut,
          "description": "no logged answer has this id (unknown, past retention, or the log is off)"},
    409: {"model": ErrorOut, "description": "the rating was changed once already"},
}

OTHER_METHODS = ["HEAD", "GET", "PUT", "PATCH", "DELETE"]  # everything but POST, for /api/ask


def build_router(gated: GatedEngine, log: QuestionLog | None = None) -> APIRouter:
    """Build the API routes over the server's one loaded engine, behind its one gate.

    ``log`` is the server's store when ``CITEQA_QUESTION_LOG=on``, else None: nothing is logged, and
    feedback is a 404.
    """
    router = APIRouter()
    engine = gated.engine
    max_chars = engine.settings.max_question_chars
    recorder = Recorder(log, "api")

    @router.post(
        "/api/ask", tags=["qa"], responses={200: {"model": AnswerOut}, **ERRORS}, dependencies=[Depends(json_body)]
    )
    async def ask(body: AskRequest) -> JSONResponse:
        """Answer a question with cited quotes from the document."""
        previous = (body.previous or "").strip()
        if len(previous) > max_chars:
            raise InputError(f"'previous' has {len(previous):,} characters; the limit is {max_chars:,}")
        answer = await gated.ask(body.question, body.top_k, previous=previous or None)
        await record_off_loop(recorder, answer)
        return JSONResponse(answer.to_dict())

    @router.api_route("/api/ask", methods=OTHER_METHODS, include_in_schema=False)
    def ask_wrong_method() -> JSONResponse:
        return wrong_method("use POST with a JSON body {\"question\": \"...\"}", "POST")

    @router.post(
        "/api/feedback", tags=["qa"], responses={200: {"model": FeedbackOut}, **FEEDBACK_ERRORS},
        dependencies=[Depends(json_body)],
    )
    async def feedback(body: FeedbackRequest) -> JSONResponse:
        """Rate an answer 👍 (up) or 👎 (down), with an optional comment (needs CITEQA_QUESTION_LOG=on)."""
        if log is None:
            return JSONResponse({"error": LOG_OFF}, status_code=404)
        try:  # one small write; a thread, so the disk never holds the event loop
            kept = await asyncio.to_thread(log.rate, body.id, body.rating, body.comment)
        except FeedbackError as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        return JSONResponse({"id": kept.answer_id, "rating": kept.rating, "changed": kept.changed})

    @router.api_route("/api/feedback", methods=OTHER_METHODS, include_in_schema=False)
    def feedback_wrong_method() -> JSONResponse:
        return wrong_method("use POST with a JSON body {\"id\": \"...\", \"rating\": \"up\"}", "POST")

    @router.api_route("/api/search", methods=["HEAD"], include_in_schema=False)
    @router.get("/api/search", tags=["qa"], responses={200: {"model": SearchOut}, **ERRORS})
    async def search(
        q: str = Query(description="the query"),
        k: int | None = Query(default=None, ge=1, le=MAX_TOP_K, description="number of passages (default 5)"),
        retriever: Annotated[RetrieverName, Query(description="which retriever")] = RetrieverName.HYBRID,
    ) -> JSONResponse:
        """Retrieve the passages closest to a query, without composing an answer."""
        hits = await gated.search(q, k, retriever)
        return JSONResponse({"query": q, "hits": [h.to_dict() for h in hits]})

    @router.api_route("/api/search", methods=["POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    def search_wrong_method() -> JSONResponse:
        return wrong_method("use GET /api/search?q=…", "GET, HEAD")

    @router.api_route("/api/{rest:path}", methods=["POST", *OTHER_METHODS], include_in_schema=False)
    def api_not_found(rest: str) -> JSONResponse:
        return JSONResponse({"error": f"no such API endpoint: /api/{rest}"}, status_code=404)

    @router.get("/healthz", tags=["ops"], response_model=HealthOut)
    def healthz() -> dict[str, Any]:
        """Liveness and what is loaded; open even when an access token is set."""
        return {"status": "ok", "passages": engine.index.passage_count, "model": engine.embedder.name}

    return router


def wrong_method(message: str, allow: str) -> JSONResponse:
    """405 with the methods the route does take."""
    return JSONResponse({"error": message}, status_code=405, headers={"Allow": allow})


def json_body(request: Request) -> None:
    """Refuse a body that is not declared JSON (415): a form or ``text/plain`` post is not a question."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        raise HTTPException(415, "send the question as JSON with the header Content-Type: application/json")


def install_error_handlers(app: FastAPI) -> None:
    """Turn every error of the app's own routes into ``{"error": "..."}`` with a 4xx (503: busy) status."""

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"error": "the request body is not valid JSON"}, status_code=400)
        return JSONResponse({"error": describe(errors)}, status_code=422)

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else "internal error"
        if status == 400 and detail == "There was an error parsing the body":  # FastAPI's words for bad UTF-8
            detail = "the request body is not valid JSON (it must be UTF-8 encoded)"
        headers = getattr(exc, "headers", None)
        return JSONResponse({"error": str(detail)}, status_code=status, headers=headers)

    async def on_input(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def on_citeqa(_: Request, exc: Exception) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Overloaded) else None
        return JSONResponse({"error": str(exc)}, status_code=503, headers=headers)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(InputError, on_input)
    app.add_exception_handler(CiteqaError, on_citeqa)


def describe(errors: Sequence[Any]) -> str:
    """Summarise pydantic's errors in one line: "top_k: Input should be a valid integer"."""
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
