// Boost.JSON and Boost.URL are compiled once, here; every other file includes only their headers.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
