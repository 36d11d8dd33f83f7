# The virtual board's flash: a littlefs image in a host file, mounted at /flash as the board's filesystem, then
# the REPL (micropython -i flash.py IMAGE HARDWARE_DIR BOARD_JSON [MIC_WAV]). HARDWARE_DIR is this folder,
# holding emulated_chips (the board's "hardware", not a file on its flash); the board file and the WAV
# microphone are put on the flash the first time.
import os
import sys
import vfs

BLOCK_SIZE = 4096


class FileBlockDevice:
    """A littlefs block device (the extended interface: offsets within blocks) over an image file."""

    def __init__(self, path):
        self.f = open(path, "r+b")
        self.f.seek(0, 2)
        self.blocks = self.f.tell() // BLOCK_SIZE

    def readblocks(self, n, buf, offset=0):
        self.f.seek(n * BLOCK_SIZE + offset)
        self.f.readinto(buf)

    def writeblocks(self, n, buf, offset=0):
        self.f.seek(n * BLOCK_SIZE + offset)
        self.f.write(buf)
        self.f.flush()

    def ioctl(self, op, arg):
        if op == 4:     # block count
            return self.blocks
        if op == 5:     # block size
            return BLOCK_SIZE
        if op == 6:     # erase: littlefs needs nothing done
            return 0


def _copy(src, dst, once=True):
    if once:
        try:
            os.stat(dst)
            return
        except OSError:
            pass
    with open(src, "rb") as a, open(dst, "wb") as b:
        while True:
            chunk = a.read(4096)
            if not chunk:
                break
            b.write(chunk)


def boot(image, hardware, board_json, mic_wav=None):
    device = FileBlockDevice(image)
    try:
        vfs.mount(device, "/flash")
    except OSError:     # a blank image: format it
        vfs.VfsLfs2.mkfs(device)
        vfs.mount(device, "/flash")
    os.chdir("/flash")
    for d in ("lib", "boards"):
        try:
            os.mkdir(d)
        except OSError:
            pass
    _copy(board_json, "boards/virtual.json")
    if mic_wav:
        _copy(mic_wav, "mic.wav", once=False)
    sys.path[:] = ["", "/flash/lib", hardware]


boot(*sys.argv[1:])
