// Catch2 main for the example plugin's tests (a third party builds them standalone).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
