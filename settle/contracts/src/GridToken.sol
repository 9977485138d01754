// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title GridToken
/// @notice The ERC-20 a local gridswarm chain pays in. Real deployments take
/// any ERC-20: the escrow and the stake only use it through SafeERC20.
/// @dev The owner (the daemon that deployed the local chain's contracts) mints
/// test funds; nothing else is special about it.
contract GridToken is ERC20, Ownable {
    constructor(address initialOwner) ERC20("Gridswarm Test Token", "GRID") Ownable(initialOwner) {}

    /// @notice Mint `amount` to `to`. Only the owner may mint.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
