// Every bundled searcher. A searcher is a policy type over a SelectionProblem (search/problem.hpp): adding one is
// one header here plus its test.
#pragma once

#include "primsel/search/exact.hpp"
#include "primsel/search/fixed.hpp"
#include "primsel/search/greedy.hpp"
#include "primsel/search/problem.hpp"
#include "primsel/search/qlearning.hpp"
#include "primsel/search/random_search.hpp"
