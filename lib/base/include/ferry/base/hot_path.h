// FERRY_HOT marks a function that runs on every guest exit. The compiler optimizes it for speed
// and the linker groups all of them in .text.hot, so an exit touches a few code pages instead
// of one per library: on a nested host every exit flushes the TLB, and each page costs a walk.
#pragma once

#define FERRY_HOT [[gnu::hot]]
