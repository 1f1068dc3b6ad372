#!/usr/bin/env node
// The installed `flowplane` command. A committed, executable file rather than dist/main.js
// itself: npm links bins at install time, before the build has produced dist/.
import "../dist/main.js";
