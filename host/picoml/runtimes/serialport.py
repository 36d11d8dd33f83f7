"""A board on a serial port, through mpremote: the library is deployed when the board has none, the model and
the inputs are copied onto its flash, RUN / BENCH (picoml.runtimes.scripts) run there and the outputs are copied
back. Port "virtual" starts the virtual board (picoml.virtual_board) for each call. Without --backend the
board picks its fastest backend, as picoml.load does."""
import os
import pathlib
import tempfile

from ..errors import PicomlError
from . import DEVICE_BACKENDS, Runtime, scripts


def on_port(port, work):
    """work(port) on a real board's serial port, or on a virtual board started for it."""
    if port != "virtual":
        return work(port)
    from ..virtual_board import VirtualBoard
    with VirtualBoard() as board:
        return work(board.port)


class Board(Runtime):
    backends = DEVICE_BACKENDS
    default_backend = None      # the board's own choice

    def __init__(self, port, deploy_library=True):
        self.port = port
        self.name = "board at %s" % port
        self.deploy_library = deploy_library

    def _session(self, port, pml_bytes):
        """(mpremote, the folder beside the board's lib/ where files go), with the model copied there."""
        from ..deploy import Mpremote, board_info, deploy
        board = Mpremote(port)
        if self.deploy_library:
            try:
                board.exec("import picoml")
            except PicomlError:
                deploy(None, port)      # the library is not on the board yet
        _, _, lib = board_info(board)
        root = os.path.dirname(lib)
        with tempfile.TemporaryDirectory() as tmp:
            local = pathlib.Path(tmp) / "picoml_run.pml"
            local.write_bytes(pml_bytes)
            board.copy(local, root + "/picoml_run.pml")
        return board, root

    def run_batch(self, pml_bytes, batch, backend=None):
        backend = self.backend(backend)

        def work(port):
            board, root = self._session(port, pml_bytes)
            source, data = scripts.run_source(pml_bytes, batch, scripts.load_line(root + "/picoml_run.pml", backend),
                                              root + "/picoml_in.bin", root + "/picoml_out.bin")
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    tmp = pathlib.Path(tmp)
                    (tmp / "in.bin").write_bytes(data)
                    board.copy(tmp / "in.bin", root + "/picoml_in.bin")
                    out = board.exec(source)
                    board.fetch(root + "/picoml_out.bin", tmp / "out.bin")
                    return scripts.run_result(pml_bytes, out, (tmp / "out.bin").read_bytes(), len(batch))
            finally:
                _remove(board, [root + "/picoml_run.pml", root + "/picoml_in.bin", root + "/picoml_out.bin"])
        return on_port(self.port, work)

    def bench(self, pml_bytes, backend=None, count=20):
        backend = self.backend(backend)

        def work(port):
            board, root = self._session(port, pml_bytes)
            load = scripts.load_line(root + "/picoml_run.pml", backend)
            try:
                return scripts.bench_result(self.name, board.exec(scripts.bench_source(pml_bytes, load, count)))
            finally:
                _remove(board, [root + "/picoml_run.pml"])
        return on_port(self.port, work)


def _remove(board, paths):
    """Delete the files a run put on the board's flash (what is not there is passed over). Best effort: a board
    that stopped answering keeps them, and the error that stopped it is the one reported."""
    try:
        board.exec("import os\nfor p in %r:\n    try:\n        os.remove(p)\n    except OSError:\n        pass\n"
                   % (paths,))
    except PicomlError:
        pass
