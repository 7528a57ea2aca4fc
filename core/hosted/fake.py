"""A local stand-in for the parts of the OpenAI and Together fine-tuning APIs that tunewiz uses (files,
jobs, events, metrics, checkpoints, cancel), for tests, demos and screenshots. Standard library only.

`FakeProviderServer()` listens on 127.0.0.1 at an ephemeral port in a thread. Point the real SDKs at
`server.base_url("openai")` / `server.base_url("together")`. A job moves one tick per retrieve: pending,
queued, then one training step per tick with a falling loss (an evaluation every `eval_every` steps),
then success with a fine-tuned model id. `scenario` changes that for new jobs (steps, fail_at, error);
`inject(method, path_regex, *actions)` makes the next matching requests answer an HTTP status (429, 500,
503...) or "drop" the connection without a response.

`/chat/completions` (both providers) answers deterministically: a finished job's fine-tuned model replies
to a prompt it saw in that job's uploaded training or validation file with that file's assistant answer
(it "learned" the data); base models (the provider defaults, every job's base model, `chat_models`) and
the tuned model on unseen prompts reply with polite prose that echoes the prompt. `chat_answers`
(last user text -> answer) overrides the tuned model's replies. An unknown model gets a 404."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from core.hosted.fake_chat import FakeChat


@dataclass
class FakeJob:
    provider: str
    id: str
    model: str
    training_file: str
    validation_file: str | None
    hyperparameters: dict[str, Any]
    steps: int
    fail_at: int | None
    error: dict[str, str]
    eval_every: int
    created: int = field(default_factory=lambda: int(time.time()))
    tick: int = 0
    status: str = "pending"
    step: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # chronological
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    fine_tuned_model: str | None = None
    cancel_requested: bool = False

    def loss(self, step: int) -> float:
        return round(2.5 * (0.82 ** step) + 0.15, 4)


class FakeProviderServer(FakeChat):
    """Threaded fake of both APIs; use as a context manager or call `start()` / `stop()`."""

    def __init__(self, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0):
        self.api_key = api_key
        self.lock = threading.RLock()
        self.jobs: dict[str, FakeJob] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[tuple[str, re.Pattern, Any]] = []
        self.chat_models: set[str] = {"gpt-4o-mini-2024-07-18", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"}
        self.chat_answers: dict[str, str] = {}
        self.chats: list[dict[str, Any]] = []  # every chat request body, in order
        self.scenario: dict[str, Any] = {"steps": 6, "fail_at": None, "eval_every": 2,
                                         "error": {"code": "invalid_training_file",
                                                   "message": "Training file has 3 examples with no assistant reply."}}
        handler = type("Handler", (_Handler,), {"fake": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # --- control --------------------------------------------------------------------------------------
    def start(self) -> "FakeProviderServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "FakeProviderServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def base_url(self, provider: str) -> str:
        root = f"http://127.0.0.1:{self.port}/{provider}"
        return root + "/v1" if provider == "openai" else root

    def inject(self, method: str, path_regex: str, *actions: Any) -> None:
        """Answer the next matching requests with these actions, one each: an HTTP status or "drop"."""
        with self.lock:
            for action in actions:
                self.faults.append((method.upper(), re.compile(path_regex), action))

    def count(self, method: str, path_regex: str) -> int:
        pattern = re.compile(path_regex)
        with self.lock:
            return sum(1 for m, p in self.requests if m == method.upper() and pattern.search(p))

    def take_fault(self, method: str, path: str) -> Any:
        with self.lock:
            for i, (m, pattern, action) in enumerate(self.faults):
                if m == method and pattern.search(path):
                    del self.faults[i]
                    return action
        return None

    # --- jobs -----------------------------------------------------------------------------------------
    def create_job(self, provider: str, body: dict[str, Any]) -> FakeJob:
        s = self.scenario
        prefix = "ftjob-" if provider == "openai" else "ft-"
        hp = dict(body.get("method", {}).get("supervised", {}).get("hyperparameters", {})) if provider == "openai" else body
        if provider == "openai" and body.get("suffix"):
            hp["suffix"] = body["suffix"]
        job = FakeJob(provider=provider, id=prefix + uuid.uuid4().hex[:12], model=body.get("model", ""),
                      training_file=body.get("training_file", ""), validation_file=body.get("validation_file") or None,
                      hyperparameters=dict(hp), steps=int(s["steps"]), fail_at=s.get("fail_at"),
                      error=dict(s["error"]), eval_every=int(s.get("eval_every", 2)))
        job.status = "validating_files" if provider == "openai" else "pending"
        self._event(job, "message", "Validating training file" if provider == "openai" else "Fine tune request created",
                    kind="job_pending")
        with self.lock:
            self.jobs[job.id] = job
        return job

    def _event(self, job: FakeJob, type_: str, message: str, level: str = "info", data: dict | None = None,
               kind: str = "", **extra: Any) -> None:
        job.events.append({"n": len(job.events), "type": type_, "kind": kind, "message": message, "level": level,
                           "data": data, "created_at": int(time.time()), **extra})

    def advance(self, job: FakeJob) -> None:
        """One tick of the job's life (called on each retrieve)."""
        if job.status in ("succeeded", "completed", "failed", "error", "cancelled"):
            return
        job.tick += 1
        openai = job.provider == "openai"
        if job.cancel_requested:
            job.status = "cancelled"
            self._event(job, "message", "Fine-tuning job cancelled", kind="job_stopped")
            return
        if job.tick == 1:
            job.status = "queued"
            self._event(job, "message", "Job queued", kind="job_start")
            return
        if job.tick == 2:
            job.status = "running"
            self._event(job, "message", "Fine-tuning job started" if openai else "Training started",
                        kind="training_start", total_steps=job.steps)
        job.step += 1
        step = job.step
        if job.fail_at is not None and step >= job.fail_at:
            job.status = "failed" if openai else "error"
            self._event(job, "message", job.error["message"], level="error", kind="job_error")
            return
        loss = job.loss(step)
        valid = round(loss + 0.05, 4) if step % job.eval_every == 0 else None
        if openai:
            data = {"step": step, "total_steps": job.steps, "train_loss": loss, "train_mean_token_accuracy": 0.5}
            if valid is not None:
                data["valid_loss"] = valid
            self._event(job, "metrics", f"Step {step}/{job.steps}: training loss={loss}", data=data)
        else:
            job.metrics.append({"global_step": step, "train/loss": loss, "train/learning_rate": 1e-5})
            if valid is not None:
                job.metrics.append({"global_step": step, "eval/loss": valid})
        if step == job.steps // 2 or step == job.steps:
            ckpt = {"step": step, "created_at": int(time.time())}
            if openai:
                ckpt["id"] = f"ftckpt-{job.id[-6:]}-{step}"
                ckpt["model"] = f"ft:{job.model}:tunewiz::{job.id[-8:]}:ckpt-step-{step}"
                ckpt["metrics"] = {"step": step, "train_loss": loss}
            else:
                ckpt["path"] = f"s3://fake/{job.id}/checkpoint-{step}"
            job.checkpoints.append(ckpt)
            self._event(job, "message", f"Checkpoint saved at step {step}", kind="checkpoint_save", step=step)
        if step >= job.steps:
            suffix = job.hyperparameters.get("suffix") or "tunewiz"
            if openai:
                job.status = "succeeded"
                job.fine_tuned_model = f"ft:{job.model}:fake-org:{suffix}:{job.id[-8:]}"
                self._event(job, "message", f"New fine-tuned model created: {job.fine_tuned_model}")
                self._event(job, "message", "The job has successfully completed")
            else:
                job.status = "completed"
                job.fine_tuned_model = f"fake-user/{job.model.split('/')[-1]}-{suffix}-{job.id[-6:]}"
                self._event(job, "message", "Training completed", kind="training_complete")
                self._event(job, "message", "Job finished", kind="job_complete")

    def cancel(self, job: FakeJob) -> None:
        if job.status in ("succeeded", "completed", "failed", "error", "cancelled"):
            return
        if job.provider == "openai":
            job.status = "cancelled"
            self._event(job, "message", "Fine-tuning job cancelled")
        else:
            job.cancel_requested = True
            job.status = "cancel_requested"
            self._event(job, "message", "Cancel requested", kind="cancel_requested")

    # --- JSON shapes ----------------------------------------------------------------------------------
    def openai_job(self, job: FakeJob) -> dict[str, Any]:
        error = None
        if job.status == "failed":
            error = {"code": job.error["code"], "message": job.error["message"], "param": "training_file"}
        hp = {"n_epochs": job.hyperparameters.get("n_epochs", "auto"),
              "batch_size": job.hyperparameters.get("batch_size", "auto"),
              "learning_rate_multiplier": job.hyperparameters.get("learning_rate_multiplier", "auto")}
        return {"id": job.id, "object": "fine_tuning.job", "created_at": job.created, "error": error,
                "fine_tuned_model": job.fine_tuned_model,
                "finished_at": int(time.time()) if job.status in ("succeeded", "failed", "cancelled") else None,
                "hyperparameters": hp, "model": job.model, "organization_id": "org-fake", "result_files": [],
                "seed": job.hyperparameters.get("seed", 42), "status": job.status,
                "trained_tokens": job.step * 1000 if job.status == "succeeded" else None,
                "training_file": job.training_file, "validation_file": job.validation_file,
                "estimated_finish": None, "method": {"type": "supervised"}}

    def together_job(self, job: FakeJob) -> dict[str, Any]:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"id": job.id, "status": job.status, "created_at": now, "updated_at": now, "user_id": "fake-user",
                "model": job.model, "model_output_name": job.fine_tuned_model, "adapter_output_name": None,
                "training_file": job.training_file, "validation_file": job.validation_file,
                "n_epochs": job.hyperparameters.get("n_epochs"), "param_count": 8_030_261_248,
                "token_count": job.step * 1000, "events": [], "job_id": job.id}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeProviderServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _send(self, status: int, obj: Any = None, headers: dict[str, str] | None = None) -> None:
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, message: str, code: str | None = None) -> None:
        self._send(status, {"error": {"message": message, "type": "invalid_request_error", "code": code, "param": None}})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self, method: str) -> None:
        fake = self.fake
        url = urlparse(self.path)
        path = url.path
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        raw = self._body()
        with fake.lock:
            fake.requests.append((method, path))
        fault = fake.take_fault(method, path)
        if fault == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if isinstance(fault, int):
            self._send(fault, {"error": {"message": f"injected HTTP {fault}", "type": "server_error"}},
                       headers={"Retry-After": "0", "retry-after-ms": "1"})
            return
        if not path.startswith("/together/upload/") and fake.api_key is not None:
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                given = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                # like the real service, quote the key back: callers must redact it before showing it
                self._error(401, f"Incorrect API key provided: {given}.", "invalid_api_key")
                return
        try:
            if path.startswith("/openai/v1/"):
                self._openai(method, path[len("/openai/v1"):], query, raw)
            elif path.startswith("/together/"):
                self._together(method, path[len("/together"):], query, raw)
            else:
                self._error(404, f"no route {path}")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    # --- OpenAI ---------------------------------------------------------------------------------------
    def _openai(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        fake = self.fake
        if method == "POST" and path == "/files":
            match = re.search(rb'filename="([^"]*)"', raw)
            fid = "file-" + uuid.uuid4().hex[:12]
            name = match.group(1).decode() if match else "upload.jsonl"
            fake.files[fid] = {"filename": name, "bytes": len(raw), "content": raw}
            self._send(200, {"id": fid, "object": "file", "bytes": len(raw), "created_at": int(time.time()),
                             "filename": name, "purpose": "fine-tune", "status": "processed"})
            return
        if method == "POST" and path == "/chat/completions":
            self._send(*fake.chat("openai", json.loads(raw or b"{}")))
            return
        if method == "POST" and path == "/fine_tuning/jobs":
            body = json.loads(raw or b"{}")
            if body.get("training_file") not in fake.files:
                self._error(400, f"invalid training_file: {body.get('training_file')}", "invalid_file")
                return
            self._send(200, fake.openai_job(fake.create_job("openai", body)))
            return
        m = re.fullmatch(r"/fine_tuning/jobs/([^/]+)(/events|/checkpoints|/cancel)?", path)
        if not m or m.group(1) not in fake.jobs:
            self._error(404, f"no such job or route: {path}", "not_found")
            return
        job = fake.jobs[m.group(1)]
        action = m.group(2)
        with fake.lock:
            if action is None and method == "GET":
                fake.advance(job)
                self._send(200, fake.openai_job(job))
            elif action == "/cancel" and method == "POST":
                fake.cancel(job)
                self._send(200, fake.openai_job(job))
            elif action == "/events":
                events = [self._openai_event(job, e) for e in reversed(job.events)]
                if query.get("after"):
                    ids = [e["id"] for e in events]
                    events = events[ids.index(query["after"]) + 1:] if query["after"] in ids else []
                limit = int(query.get("limit", 20))
                self._send(200, {"object": "list", "data": events[:limit], "has_more": len(events) > limit})
            elif action == "/checkpoints":
                data = [{"id": c["id"], "object": "fine_tuning.job.checkpoint", "created_at": c["created_at"],
                         "fine_tuned_model_checkpoint": c["model"], "fine_tuning_job_id": job.id,
                         "metrics": c["metrics"], "step_number": c["step"]} for c in reversed(job.checkpoints)]
                self._send(200, {"object": "list", "data": data, "has_more": False,
                                 "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None})
            else:
                self._error(405, "method not allowed")

    @staticmethod
    def _openai_event(job: FakeJob, e: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"ftevent-{job.id[-6:]}-{e['n']:04d}", "object": "fine_tuning.job.event",
                "created_at": e["created_at"], "level": "error" if e["level"] == "error" else "info",
                "message": e["message"], "data": e["data"] or {}, "type": e["type"]}

    # --- Together -------------------------------------------------------------------------------------
    def _together(self, method: str, path: str, query: dict[str, str], raw: bytes) -> None:
        fake = self.fake
        if method == "POST" and path == "/v1/files":
            fid = "file-" + uuid.uuid4().hex[:12]
            match = re.search(rb'name="file_name"\r\n\r\n([^\r]*)', raw)
            fake.files[fid] = {"filename": match.group(1).decode() if match else "upload.jsonl", "bytes": 0}
            location = f"http://127.0.0.1:{fake.port}/together/upload/{fid}"
            self._send(302, {}, headers={"Location": location, "X-Together-File-Id": fid})
            return
        m = re.fullmatch(r"/upload/([^/]+)", path)
        if m and method == "PUT":
            fake.files.setdefault(m.group(1), {})["content"] = raw
            fake.files[m.group(1)]["bytes"] = len(raw)
            self._send(200, {})
            return
        m = re.fullmatch(r"/v1/files/([^/]+)/preprocess", path)
        if m and method == "POST":
            info = fake.files.get(m.group(1), {})
            self._send(200, {"id": m.group(1), "bytes": info.get("bytes", 0), "created_at": int(time.time()),
                             "filename": info.get("filename", ""), "FileType": "jsonl", "object": "file",
                             "purpose": "fine-tune", "processing_status": "COMPLETED"})
            return
        if method == "GET" and path == "/v1/fine-tunes/models/limits":
            self._send(200, {"model_name": query.get("model_name", ""), "default_gradient_accumulation_steps": 1,
                             "lora_training": {"default_rank": 64, "max_batch_size": 128, "max_batch_size_dpo": 64,
                                               "max_rank": 64, "min_batch_size": 8,
                                               "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
                             "full_training": {"max_batch_size": 96, "max_batch_size_dpo": 48, "min_batch_size": 8},
                             "max_learning_rate": 1.0, "min_learning_rate": 0.0, "max_num_checkpoints": 10,
                             "max_num_epochs": 20, "max_num_evals": 100, "max_seq_length_dpo": 8192,
                             "max_seq_length_sft": 8192, "merge_output_lora": True, "min_max_seq_length": 512,
                             "supports_full_training": True, "supports_reasoning": False, "supports_tools": True,
                             "supports_vision": False})
            return
        if method == "POST" and path == "/v1/fine-tunes/estimate-price":
            self._send(200, {"estimation_available": True, "allowed_to_proceed": True,
                             "estimated_total_price": 1.0, "estimated_train_token_count": 1000})
            return
        if method == "POST" and path == "/v1/chat/completions":
            self._send(*fake.chat("together", json.loads(raw or b"{}")))
            return
        if method == "POST" and path == "/v1/fine-tunes":
            body = json.loads(raw or b"{}")
            if body.get("training_file") not in fake.files:
                self._error(400, f"invalid training_file: {body.get('training_file')}")
                return
            self._send(200, fake.together_job(fake.create_job("together", body)))
            return
        m = re.fullmatch(r"/v1/fine-tunes/([^/]+)(/events|/metrics|/checkpoints|/cancel)?", path)
        if not m or m.group(1) not in fake.jobs:
            self._error(404, f"no such job or route: {path}")
            return
        job = fake.jobs[m.group(1)]
        action = m.group(2)
        with fake.lock:
            if action is None and method == "GET":
                fake.advance(job)
                self._send(200, fake.together_job(job))
            elif action == "/cancel" and method == "POST":
                fake.cancel(job)
                self._send(200, fake.together_job(job))
            elif action == "/events":
                data = [{"object": "fine-tune-event", "created_at": str(e["created_at"]), "message": e["message"],
                         "type": e["kind"] or ("job_error" if e["level"] == "error" else "warning"),
                         "level": e["level"], "step": e.get("step"), "total_steps": e.get("total_steps")}
                        for e in job.events]
                self._send(200, {"data": data})
            elif action == "/metrics":
                start = int(query.get("global_step_from", 0))
                self._send(200, {"metrics": [r for r in job.metrics if r["global_step"] >= start]})
            elif action == "/checkpoints":
                data = [{"checkpoint_type": "Final" if c["step"] == job.steps else f"Intermediate step {c['step']}",
                         "created_at": str(c["created_at"]), "path": c["path"], "step": c["step"]}
                        for c in reversed(job.checkpoints)]
                self._send(200, {"data": data})
            else:
                self._error(405, "method not allowed")
