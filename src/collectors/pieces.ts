import type { PieceParser } from './contract.js';
import { csvlogPieces } from './pgaudit/csvlog-pieces.js';

/**
 * The piece parsers of every format that has one, by format. Collectors list theirs too (`pieces`);
 * parse workers load this table alone, so a worker does not load every collector's dependencies (the
 * DAS collector's AWS SDK and crypto), which measured slower to start and larger than the parsing.
 */
export const PIECE_PARSERS: Readonly<Record<string, PieceParser>> = { csvlog: csvlogPieces };
