// Catch2 main for the stripe_connect plugin's unit tests.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
