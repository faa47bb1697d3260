/* SPDX-License-Identifier: MIT */
/* termios at the API level (being written). */
#include "shim_i.h"
