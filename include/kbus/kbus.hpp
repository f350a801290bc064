// kbus: Kafka for one machine, over shared memory. The one header a client includes.
#pragma once

#include "kbus/bus_location.hpp"
#include "kbus/bytes.hpp"
#include "kbus/client.hpp"
#include "kbus/consumer.hpp"
#include "kbus/error.hpp"
#include "kbus/message.hpp"
#include "kbus/murmur2.hpp"
#include "kbus/names.hpp"
#include "kbus/producer.hpp"
#include "kbus/version.hpp"
