"""The `run` command's pieces that need no running servers."""

from __future__ import annotations

import pytest

from bot.stack import Stack, StackConfig, StackError


def test_commands_use_the_configured_ports_and_files(tmp_path):
    config = StackConfig(rasa_port=5105, action_port=5155, staff_port=8100, var_dir=tmp_path, token="t0k")
    stack = Stack(config, progress=lambda _: None)
    commands = stack.commands()
    assert commands["actions"][-2:] == ["--port", "5155"]
    rasa = commands["rasa"]
    assert rasa[rasa.index("--port") + 1] == "5105" and rasa[rasa.index("--auth-token") + 1] == "t0k"
    assert "--enable-api" in rasa and rasa[rasa.index("--endpoints") + 1].endswith("endpoints.yml")
    assert commands["staff"][-2:] == ["--port", "8100"]
    assert stack.env["KOMMUNEBOT_ACTION_URL"] == "http://127.0.0.1:5155/webhook"
    assert stack.env["KOMMUNEBOT_RASA_TOKEN"] == "t0k"


def test_generated_token_is_kept_private_and_reused(tmp_path):
    first = Stack(StackConfig(var_dir=tmp_path), progress=lambda _: None).token
    second = Stack(StackConfig(var_dir=tmp_path), progress=lambda _: None).token
    assert first == second and len(first) >= 24
    assert (tmp_path / "rasa-token").stat().st_mode & 0o077 == 0


def test_missing_model_says_to_train(tmp_path):
    stack = Stack(StackConfig(var_dir=tmp_path, model=tmp_path / "no-model"), progress=lambda _: None)
    with pytest.raises(StackError, match="make train"):
        stack.check(["actions", "rasa"])
    with pytest.raises(StackError, match="make train"):
        stack.check(["actions", "shell"])


def test_action_server_gets_one_torch_thread_unless_the_caller_chose(tmp_path, monkeypatch):
    import sys

    def thread_setting(stack: Stack) -> str:
        stack.log_dir.mkdir(parents=True, exist_ok=True)
        stack.spawn("actions", [sys.executable, "-c", "import os; print(os.environ['OMP_NUM_THREADS'])"])
        stack.procs["actions"].wait(timeout=30)
        return stack.log("actions").read_text().split()[-1]

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert thread_setting(Stack(StackConfig(var_dir=tmp_path), progress=lambda _: None)) == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert thread_setting(Stack(StackConfig(var_dir=tmp_path), progress=lambda _: None)) == "2"


def test_several_rasa_processes_get_a_redis_lock_store(tmp_path, monkeypatch):
    import sys

    monkeypatch.setenv("KOMMUNEBOT_LOCK_STORE_URL", "redis://:s3cret@127.0.0.1:6390/2")
    stack = Stack(StackConfig(var_dir=tmp_path, rasa_workers=2), progress=lambda _: None)
    stack._prepare_workers()
    rasa = stack.commands()["rasa"]
    generated = rasa[rasa.index("--endpoints") + 1]
    text = open(generated, encoding="utf-8").read()
    assert "lock_store:\n  type: redis\n  url: 127.0.0.1\n  port: 6390\n  db: 2\n  password: s3cret" in text
    assert "tracker_store:" in text  # the project's endpoints are kept
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    stack.spawn("rasa", [sys.executable, "-c", "import os; print(os.environ['SANIC_WORKERS'])"])
    stack.procs["rasa"].wait(timeout=30)
    assert stack.log("rasa").read_text().split()[-1] == "2"


def test_a_bad_worker_setting_is_refused_with_what_to_write(tmp_path, monkeypatch):
    monkeypatch.setenv("KOMMUNEBOT_RASA_WORKERS", "0")
    with pytest.raises(StackError, match="KOMMUNEBOT_RASA_WORKERS"):
        Stack(StackConfig(var_dir=tmp_path), progress=lambda _: None)
    monkeypatch.setenv("KOMMUNEBOT_RASA_WORKERS", "2")
    monkeypatch.setenv("KOMMUNEBOT_LOCK_STORE_URL", "memcached://x")
    stack = Stack(StackConfig(var_dir=tmp_path), progress=lambda _: None)
    with pytest.raises(StackError, match="redis://host:port/db"):
        stack._prepare_workers()
