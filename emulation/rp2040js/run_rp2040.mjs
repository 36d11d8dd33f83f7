// Runs the picoml harness image (m0_rp2040.bin) on rp2040js, the RP2040 (Cortex-M0+) emulator, and counts the
// cycles and instructions of each pml_invoke call.
//
//   node run_rp2040.mjs IMAGE.bin MODEL.pml INPUTS.bin OUTPUTS.bin [MAX_CYCLES] [--ops=0xA:0xB:...] [--profile=FILE]
//
// The image is copied to SRAM at 0x20000000; SP and the entry point come from its vector table. The model and
// the inputs (n samples of the model's input bytes back to back) are put in the emulated flash at 0x10000000
// and announced in the image's mailbox (0x20000100, see main_mailbox.c). The core then runs until `bkpt 0`;
// `bkpt 1` / `bkpt 2` bracket each pml_invoke. Writes the outputs and prints one JSON line:
//   {"status": S, "cycles": [per sample], "insns": [per sample], "total_cycles": N, "problems": [...]}
// With --ops= (the kernels' entry points), "ops": per sample, [[entry, cycles, insns], ...]: the core entering one
// of those addresses starts a new segment; the first one (entry 0) runs from bkpt 1 to the first kernel.
// With --profile=FILE, the cycles of every instruction executed inside pml_invoke summed per address, written to
// FILE as JSON [[address, cycles], ...] (tests/bench/profile_m0plus.py names the functions).
// Cycles are rp2040js's model (1 per instruction, loads/stores 2, taken branches 2, BL 3, no wait states).
// Exit code 0 when the image reported status 0 and the emulator logged no problem (unaligned access,
// unimplemented instruction, access to an unmapped address).
import fs from 'node:fs';
import { RP2040 } from 'rp2040js';

const SRAM = 0x20000000;
const FLASH = 0x10000000;
const MAILBOX = SRAM + 0x100;
const MAGIC = 0x484c4d50;
const M = { magic: 0, version: 4, heapStart: 8, heapEnd: 12, modelAddr: 16, modelSize: 20, inputsAddr: 24,
  nSamples: 28, outputsAddr: 32, outputsSize: 36, arenaAddr: 40, arenaSize: 44, status: 48, done: 52 };

const opsArg = process.argv.slice(2).find((a) => a.startsWith('--ops='));
const profileArg = process.argv.slice(2).find((a) => a.startsWith('--profile='));
const profile = profileArg ? new Map() : null;     // address -> cycles inside pml_invoke
const opEntries = new Set(opsArg ? opsArg.slice(6).split(':').filter(Boolean).map((x) => Number(x) >>> 0) : []);
const [imagePath, modelPath, inputsPath, outputsPath, maxCyclesArg] =
  process.argv.slice(2).filter((a) => !a.startsWith('--'));
if (!outputsPath) {
  console.error('usage: node run_rp2040.mjs IMAGE.bin MODEL.pml INPUTS.bin OUTPUTS.bin [MAX_CYCLES]');
  process.exit(2);
}
const maxCycles = Number(maxCyclesArg || 5e9);   // about 2.5 minutes of emulation
const image = fs.readFileSync(imagePath);
const model = fs.readFileSync(modelPath);
const inputs = fs.readFileSync(inputsPath);

const problems = [];
const note = (message) => { if (problems.length < 20) problems.push(message); };
const mcu = new RP2040();
mcu.logger = { debug() {}, info() {}, warn: (c, m) => note(`${c}: ${m}`), error: (c, m) => note(`${c}: ${m}`) };
const core = mcu.core;
// A Cortex-M0+ faults on an unaligned halfword or word access; rp2040js would carry on: report it.
for (const [name, mask] of [['readUint32', 3], ['writeUint32', 3], ['readUint16', 1], ['writeUint16', 1]]) {
  const original = core[name].bind(core);
  core[name] = (address, value) => {
    if (address & mask) note(`unaligned ${name} at 0x${(address >>> 0).toString(16)}, pc 0x${core.PC.toString(16)}`);
    return original(address, value);
  };
}

if (image.length > mcu.sram.length) throw new Error(`image of ${image.length} bytes does not fit the SRAM`);
mcu.sram.set(image, 0);
const mailbox = (field) => mcu.sramView.getUint32(MAILBOX - SRAM + M[field], true);
const setMailbox = (field, value) => mcu.sramView.setUint32(MAILBOX - SRAM + M[field], value >>> 0, true);
if (mailbox('magic') !== MAGIC) throw new Error('no harness mailbox at 0x20000100: not a picoml harness image');

const inputsOffset = (model.length + 15) & ~15;
if (inputsOffset + inputs.length > mcu.flash.length) throw new Error('model and inputs do not fit the flash');
mcu.flash.set(model, 0);
mcu.flash.set(inputs, inputsOffset);
const inputBytes = inputBytesOf(model);
if (inputs.length % inputBytes !== 0) throw new Error('the inputs are not a whole number of samples');
const nSamples = inputs.length / inputBytes;
setMailbox('modelAddr', FLASH);
setMailbox('modelSize', model.length);
setMailbox('inputsAddr', FLASH + inputsOffset);
setMailbox('nSamples', nSamples);

core.SP = mcu.sramView.getUint32(0, true);
core.PC = mcu.sramView.getUint32(4, true) & ~1;
core.VTOR = SRAM;

const cycles = [];
const insns = [];
const ops = [];
let segments = null;   // this sample's [entry, cycles, insns] so far
let segment = null;    // the open one: [entry, cycles at its start, insns at its start]
let executed = 0;
let begin = null;
let stopped = false;
const closeSegment = () => segments.push([segment[0], core.cycles - segment[1], executed - segment[2]]);
mcu.onBreak = (code) => {
  if (code === 1) {
    begin = [core.cycles, executed];
    if (opEntries.size) {
      segments = [];
      segment = [0, core.cycles, executed];
    }
  } else if (code === 2 && begin) {
    cycles.push(core.cycles - begin[0]);
    insns.push(executed - begin[1]);
    begin = null;
    if (segments) {
      closeSegment();
      ops.push(segments);
      segments = null;
    }
  } else {
    stopped = true;
  }
};
while (!stopped) {
  if (segments && opEntries.has(core.PC)) {
    closeSegment();
    segment = [core.PC, core.cycles, executed];
  }
  if (profile && begin) {
    const pc = core.PC, before = core.cycles;
    core.executeInstruction();
    profile.set(pc, (profile.get(pc) || 0) + core.cycles - before);
  } else {
    core.executeInstruction();
  }
  executed++;
  if (core.cycles > maxCycles) {
    note(`no result after ${maxCycles} cycles (pc 0x${core.PC.toString(16)})`);
    break;
  }
}

const status = stopped && mailbox('done') === 1 ? mailbox('status') | 0 : null;
if (status === 0) {
  const start = mailbox('outputsAddr') - SRAM;
  fs.writeFileSync(outputsPath, mcu.sram.subarray(start, start + mailbox('outputsSize')));
}
if (profile) fs.writeFileSync(profileArg.slice(10), JSON.stringify([...profile.entries()]));
console.log(JSON.stringify({ status, samples: nSamples, cycles, insns, total_cycles: core.cycles,
  total_insns: executed, problems, ...(opEntries.size ? { ops } : {}) }));
process.exit(status === 0 && problems.length === 0 ? 0 : 1);

// Bytes of all model inputs of one sample (docs/format.md: io table entries after the header's offsets).
function inputBytesOf(blob) {
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const nInputs = view.getUint16(20, true);
  const tensorsOffset = view.getUint32(28, true);
  const ioOffset = view.getUint32(40, true);
  let total = 0;
  for (let k = 0; k < nInputs; k++) {
    const tensor = view.getUint16(ioOffset + 4 * k, true);
    total += view.getUint32(tensorsOffset + 36 * tensor + 8, true);
  }
  return total;
}
