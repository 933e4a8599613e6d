"""Scheduler: tasks, peers, piece progress, piece-selection policies and the schedule step."""
from .events import CdnEvents
from .manager import TaskManager
from .peers import Peer, PeerRegistry
from .piece_errors import PieceErrorQueue
from .policy import POLICIES, PiecePolicy, PieceView, create_policy
from .piece_status import PieceBitset
from .progress import ProgressStore
from .requests import PieceErrorReport, PullRequest, RegisterRequest
from .scheduler import SUPERNODE, Assignment, Limits, Scheduler, ScheduleResult
from .state import SchedulerState
from .tasks import DfgetTask, DfgetTaskRegistry, Task, TaskRegistry, new_task

__all__ = ["CdnEvents", "TaskManager", "Peer", "PeerRegistry", "PieceErrorQueue", "POLICIES", "PiecePolicy",
           "PieceView", "create_policy", "PieceBitset", "ProgressStore", "PieceErrorReport", "PullRequest",
           "RegisterRequest", "SUPERNODE", "Assignment", "Limits", "Scheduler", "ScheduleResult",
           "SchedulerState", "DfgetTask", "DfgetTaskRegistry", "Task", "TaskRegistry", "new_task"]
