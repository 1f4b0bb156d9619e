"""Long-lived projects: a process whose loops make the task tree deeper than SpiffWorkflow's default walk
(1,000 levels) neither ends silently nor gets stuck, and survives being stored and loaded."""
from __future__ import annotations

from pathlib import Path

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

import workflows.engine  # noqa: F401 - what the application imports before it runs a workflow
from workflows.engine.script_engine import restricted_engine

MODEL = Path(__file__).parent / "models" / "loop_until_done.bpmn"


def _workflow() -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(MODEL))
    wf = BpmnWorkflow(parser.get_spec("loop"), script_engine=restricted_engine())
    wf.do_engine_steps()
    return wf


def _answer(wf: BpmnWorkflow, again: bool) -> None:
    task, = wf.get_tasks(state=TaskState.READY, manual=True)
    task.set_data(again=again, round=task.data.get("round", 0) + 1)
    task.run()
    wf.do_engine_steps()


def test_a_loop_deeper_than_a_thousand_tasks_keeps_its_live_task():
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    wf = _workflow()
    for done in range(1, 401):  # three tasks a round: the tree is 1,200 deep at the end
        _answer(wf, again=True)
        if done % 100 == 0:  # stored and loaded as the application does between steps
            wf = serializer.deserialize_json(serializer.serialize_json(wf))
            wf.script_engine = restricted_engine()
        assert not wf.is_completed(), f"the workflow ended by itself after {done} rounds"
        assert len(wf.get_tasks(state=TaskState.READY, manual=True)) == 1
    _answer(wf, again=False)
    assert wf.is_completed() and wf.data["round"] == 401
