#include "commands.h"

int main(int argc, char** argv) { return ferry::cli::main(argc, argv); }
