"""Moves the addends of an Xtensa object's literal relocations into the literals, as GNU as writes them.

llvm-mc writes a literal that points at a section (`.rodata + 0x1d0`) as a zero word with the offset in the
relocation's addend; MicroPython's mpy_ld.py reads the offset from the word and requires a zero addend. The
sum, which is what the literal resolves to, does not change.

Also clears the offset field of every relocated `l32r`, as GNU as leaves it: llvm-mc writes 0xffff there when the
instruction's address is not a multiple of 4, and mpy_ld.py adds the field to the offset it computes (its
`l32r_imm16 + reloc >> 2`), so such an l32r loaded the wrong literal in MicroPython (the module's qstrs and types
came out wrong; emulation/xtensa/micropython showed it). A linker (ld) sets the whole field and is not affected.
Usage: python3 literal_addends.py OBJ
"""
import struct
import sys

SHT_RELA = 4
STT_SECTION = 3
R_XTENSA_SLOT0_OP = 20


def main(path):
    with open(path, "rb") as f:
        elf = bytearray(f.read())
    if elf[:4] != b"\x7fELF" or elf[4] != 1 or elf[5] != 1:
        sys.exit("%s: not a 32-bit little-endian ELF file" % path)
    shoff, = struct.unpack_from("<I", elf, 0x20)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x2E)
    sections = [struct.unpack_from("<10I", elf, shoff + i * shentsize) for i in range(shnum)]
    names_off = sections[shstrndx][4]

    def name(sec):
        end = elf.index(b"\0", names_off + sec[0])
        return elf[names_off + sec[0]:end].decode()

    moved = 0
    for sec in sections:
        if sec[1] != SHT_RELA:
            continue
        target = sections[sec[7]]          # sh_info: the section the relocations apply to
        if name(target).startswith(".text"):
            for off in range(sec[4], sec[4] + sec[5], 12):
                r_offset, r_info, _ = struct.unpack_from("<IIi", elf, off)
                insn = target[4] + r_offset
                if r_info & 0xFF == R_XTENSA_SLOT0_OP and elf[insn] & 0xF == 1:    # l32r (RI16, op0 1)
                    elf[insn + 1:insn + 3] = b"\0\0"
            continue
        if not name(target).startswith(".literal"):
            continue
        symtab = sections[sec[6]]          # sh_link
        for off in range(sec[4], sec[4] + sec[5], 12):
            r_offset, r_info, r_addend = struct.unpack_from("<IIi", elf, off)
            sym_off = symtab[4] + (r_info >> 8) * 16
            st_info = elf[sym_off + 12]
            if st_info & 0xF != STT_SECTION or r_addend == 0:
                continue
            word, = struct.unpack_from("<I", elf, target[4] + r_offset)
            struct.pack_into("<I", elf, target[4] + r_offset, (word + r_addend) & 0xFFFFFFFF)
            struct.pack_into("<i", elf, off + 8, 0)
            moved += 1
    with open(path, "wb") as f:
        f.write(elf)
    return moved


if __name__ == "__main__":
    main(sys.argv[1])
