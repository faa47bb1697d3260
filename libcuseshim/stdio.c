/* SPDX-License-Identifier: MIT */
/* stdio on device fds (being written). */
#include "shim_i.h"

void shim_stdio_init(void)
{
}
