/**
 * V8 set-up for the fetch worker process, imported by main.ts before any other
 * module so that it applies to their loading too. Not for library use: it
 * changes the whole process.
 */
import { doubleBeforeFullCollection, pinYoungGeneration, serialScavenges } from './heap-governor';

pinYoungGeneration();
serialScavenges();
doubleBeforeFullCollection();
