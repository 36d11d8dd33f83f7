/* What startup.c asks of each program (see there). */
#ifndef PICOML_EMULATION_STARTUP_H
#define PICOML_EMULATION_STARTUP_H

#include <stdint.h>

/* frame: r0-r3, r12, lr, pc, xpsr as the core stacked them; exception: IPSR (3 is HardFault). Never returns. */
__attribute__((noreturn)) void fault(const uint32_t *frame, uint32_t exception);

#endif
